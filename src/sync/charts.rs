//! The user's charts, read for the rules that need them: each chart that gets an overlay
//! is an input (never written), read through [`confine`] like every file under the root.

use std::path::Path;

use super::confine::{self, OnDisk};
use crate::check::Checked;
use crate::check::charts::{ChartFolder, chart_files, wired};
use crate::diagnostics::Error;
use crate::plan::Plan;
use crate::value::repo_path::join;

/// Every problem of every overlay's keys against its chart's files under `root`.
pub fn check(checked: &Checked, plan: &Plan, root: &Path) -> Vec<Error> {
    let mut errors = Vec::new();
    for chart in checked.spec.charts.iter().filter(|c| c.overlay()) {
        let Some(dir) = chart.path.as_ref().map(|p| p.value.as_str()) else {
            continue;
        };
        let folder = read(root, dir);
        let keys = wired(chart, plan.chart_gpu(&chart.name.value).is_some());
        errors.extend(chart_files(chart, dir, &folder, &keys));
    }
    errors
}

/// The chart folder `dir`: its values (and schema), or what is missing.
fn read(root: &Path, dir: &str) -> ChartFolder {
    let text = |name: &str| match confine::read(root, &join(dir, name)) {
        Ok(OnDisk::File(bytes)) => Some(String::from_utf8_lossy(&bytes).into_owned()),
        _ => None,
    };
    let is_dir = confine::resolve(root, dir).is_ok_and(|p| p.is_dir());
    if !is_dir {
        return ChartFolder::Missing;
    }
    let Some(chart) = text("Chart.yaml") else {
        return ChartFolder::Without("Chart.yaml");
    };
    match text("values.yaml") {
        None => ChartFolder::Without("values.yaml"),
        Some(values) => ChartFolder::Read {
            name: chart_name(&chart),
            values,
            schema: text("values.schema.json"),
        },
    }
}

/// The `name` a Chart.yaml gives (what `helm package` names the archive after).
fn chart_name(text: &str) -> Option<String> {
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(text).ok()?;
    doc.get("name")?.as_str().map(String::from)
}
