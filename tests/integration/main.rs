//! The one integration-test binary: every test module shares one build of specc and the
//! helpers in `support`.

mod architecture;
mod check_rules;
mod cli;
mod compose_readback;
mod consistency;
mod diagnostics;
mod docs;
mod example_hello;
mod golden;
mod helm;
mod hostile_fs;
mod hostile_values;
mod no_panic;
mod outputs_doc;
mod plan;
mod precommit;
mod regressions;
mod render_props;
mod support;
mod sync;
mod validators;
mod workflows;
