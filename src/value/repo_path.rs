//! Paths inside the repository as outputs name them: `/`-separated, relative to the
//! output root.

/// `to` relative to the folder `from` (both `/`-separated, relative to the output root).
pub fn relative_path(from_dir: &str, to: &str) -> String {
    let norm = |p: &str| -> Vec<String> {
        let mut parts: Vec<String> = Vec::new();
        for part in p.split('/') {
            match part {
                "" | "." => {}
                _ => parts.push(part.to_string()),
            }
        }
        parts
    };
    let (from, to) = (norm(from_dir), norm(to));
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut out: Vec<String> = vec!["..".into(); from.len() - common];
    out.extend(to[common..].iter().cloned());
    if out.is_empty() {
        ".".into()
    } else {
        out.join("/")
    }
}

/// Joins a folder and a file name with `/`, dropping a `.` folder.
pub fn join(dir: &str, file: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() || dir == "." {
        file.to_string()
    } else {
        format!("{dir}/{file}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths() {
        assert_eq!(
            relative_path(".", "docker/a.Dockerfile"),
            "docker/a.Dockerfile"
        );
        assert_eq!(
            relative_path("src/backend/q", "docker/q.Dockerfile"),
            "../../../docker/q.Dockerfile"
        );
        assert_eq!(relative_path("api", "api/x"), "x");
        assert_eq!(relative_path("a", "a"), ".");
    }
}
