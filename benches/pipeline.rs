//! `cargo bench`: how long each pipeline stage takes on the bundled specs, and how the whole
//! compile + plan + render grows with the number of stages (it must stay near-linear; the
//! nearest peer's cost grows super-linearly with stages).
//!
//! A plain `harness = false` program, so it needs no extra crates: each case runs for a
//! fixed wall-clock budget and reports the median of its per-iteration times.
//! `cargo bench -- FILTER` runs only the cases whose name contains FILTER.

use std::hint::black_box;
use std::time::{Duration, Instant};

use specc::PlanOptions;
use specc::render::RenderOptions;

const BUDGET: Duration = Duration::from_millis(700);

fn main() {
    let filter: Option<String> = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .filter(|a| !a.is_empty());
    let wanted = |name: &str| filter.as_deref().is_none_or(|f| name.contains(f));

    let root = env!("CARGO_MANIFEST_DIR");
    for stem in ["comfyui-runpod", "dify", "iopaint", "new-api", "sd-on-eks"] {
        let path = format!("{root}/specs/{stem}.kdl");
        let text = std::fs::read_to_string(&path).expect("bundled spec is readable");
        let name = format!("specs/{stem}.kdl");
        if wanted(&format!("compile/{stem}")) {
            measure(&format!("compile/{stem}"), || {
                black_box(specc::compile(&name, &text).is_ok());
            });
        }
        if wanted(&format!("generate/{stem}")) {
            measure(&format!("generate/{stem}"), || {
                black_box(compile_plan_render(&name, &text));
            });
        }
    }
    for stages in [10, 100, 1000] {
        let case = format!("scaling/stages={stages}");
        if wanted(&case) {
            let text = synthetic_spec(stages);
            measure(&case, || {
                black_box(compile_plan_render("bench.kdl", &text));
            });
        }
    }
}

/// The work `specc generate` does in memory (no build-context hashing, no disk writes).
fn compile_plan_render(name: &str, text: &str) -> usize {
    let checked = specc::compile(name, text).expect("bench specs compile");
    let plan = specc::plan::plan(&checked, &PlanOptions::default());
    let options = RenderOptions {
        spec_name: name.to_string(),
        regenerate: format!("specc generate {name}"),
    };
    let files = specc::render::render(&checked, &plan, &options).expect("bench specs render");
    files.len()
}

/// A chain of `stages` stages, each copying from the previous one, built as one image in
/// two variants: every check, the topological order and the renderer see them all.
fn synthetic_spec(stages: usize) -> String {
    let mut s = String::from(
        "project bench version=\"1.0.0\"\n\
         registry hub host=\"docker.io\" namespace=\"bench\"\n\
         variant cpu default=#true { platforms \"linux/amd64\" }\n\
         variant gpu { platforms \"linux/amd64\"; gpu count=1 }\n\
         stage s0 from=\"debian:12-slim\" { workdir \"/w\"; run \"echo 0 > /w/0\" }\n",
    );
    for i in 1..stages {
        s.push_str(&format!(
            "stage s{i} from=\"debian:12-slim\" {{\n    workdir \"/w\"\n    \
             copy from=s{} \"/w\" to=\"/w\"\n    env STEP \"{i}\"\n    run \"echo {i} > /w/{i}\"\n}}\n",
            i - 1
        ));
    }
    s.push_str(&format!(
        "image bench stage=s{} variants=\"cpu gpu\" registries=hub {{\n    tag \"{{{{version}}}}\"\n    tag latest\n}}\n",
        stages - 1
    ));
    s
}

/// Runs `f` repeatedly for [`BUDGET`] (at least 5 times) and prints the median.
fn measure(name: &str, mut f: impl FnMut()) {
    f(); // warm-up: first-touch allocations and template registry set-up
    let mut samples = Vec::new();
    let started = Instant::now();
    while samples.len() < 5 || started.elapsed() < BUDGET {
        let t = Instant::now();
        f();
        samples.push(t.elapsed());
    }
    samples.sort();
    let median = samples[samples.len() / 2];
    println!(
        "{name:<32} median {:>10.3} ms   ({} runs, min {:.3} ms)",
        median.as_secs_f64() * 1e3,
        samples.len(),
        samples[0].as_secs_f64() * 1e3
    );
}
