//! The one table of GitHub Actions that generated workflows use, each pinned to a full
//! commit SHA with its release tag in a comment (`owner/repo@<sha> # vX.Y.Z`).
//!
//! A tag can be moved to other code after the fact; a commit cannot, so every `uses:` a
//! template writes comes from here (the `action` template helper), and a test checks that
//! the templates name nothing else and that specc's own `.github/workflows` agree. Each
//! commit was read from the action's own repository (`git rev-parse TAG^{commit}`), not
//! from a tag object. To upgrade: change the row, regenerate the goldens, review.

/// One pinned action.
#[derive(Debug, Clone, Copy)]
pub struct Action {
    /// `owner/repo` as written after `uses:`.
    pub name: &'static str,
    /// The release tag the commit carries.
    pub version: &'static str,
    /// The full 40-hex commit SHA.
    pub commit: &'static str,
}

impl Action {
    /// What follows `uses:`: `owner/repo@sha # version`.
    pub fn uses(&self) -> String {
        format!("{}@{} # {}", self.name, self.commit, self.version)
    }
}

/// Every action a generated workflow may use, sorted by name.
pub const ACTIONS: &[Action] = &[
    action(
        "actions/checkout",
        "v5.0.0",
        "08c6903cd8c0fde910a37f88322edcfb5dd907a8",
    ),
    action(
        "actions/download-artifact",
        "v4.3.0",
        "d3f86a106a0bac45b974a628896c90dbdf5c8093",
    ),
    action(
        "actions/upload-artifact",
        "v4.6.2",
        "ea165f8d65b6e75b540449e92b4886f43607fa02",
    ),
    action(
        "aquasecurity/trivy-action",
        "v0.36.0",
        "ed142fd0673e97e23eac54620cfb913e5ce36c25",
    ),
    action(
        "aws-actions/configure-aws-credentials",
        "v6.2.3",
        "e6de054238d6b7531b4efff3b6587d9aade6a06c",
    ),
    action(
        "docker/bake-action",
        "v7.1.0",
        "a66e1c87e2eca0503c343edf1d208c716d54b8a8",
    ),
    action(
        "docker/login-action",
        "v4.1.0",
        "4907a6ddec9925e35a0a9e82d7399ccc52663121",
    ),
    action(
        "docker/scout-action",
        "v1.22.0",
        "7520205ff60037fdc436b40b6a1d1e55a839ec2d",
    ),
    action(
        "docker/setup-buildx-action",
        "v4.3.0",
        "37fe631027851001ddb9b187196cc803df7f5f0e",
    ),
    action(
        "docker/setup-qemu-action",
        "v4.2.0",
        "96fe6ef7f33517b61c61be40b68a1882f3264fb8",
    ),
    action(
        "peter-evans/dockerhub-description",
        "v5.0.0",
        "1b9a80c056b620d92cedb9d9b5a223409c68ddfa",
    ),
];

/// Actions only specc's own release workflow uses (kept here so that one table pins
/// everything this repository runs).
pub const RELEASE_ACTIONS: &[Action] = &[
    action(
        "PyO3/maturin-action",
        "v1.51.0",
        "e83996d129638aa358a18fbd1dfb82f0b0fb5d3b",
    ),
    action(
        "actions/setup-python",
        "v5.6.0",
        "a26af69be951a213d495a4c3e4e4022e16d87065",
    ),
    action(
        "astral-sh/setup-uv",
        "v6.8.0",
        "d0cc045d04ccac9d8b7881df0226f9e82c39688e",
    ),
    action(
        "rust-lang/crates-io-auth-action",
        "v1.0.5",
        "c6f97d42243bad5fab37ca0427f495c86d5b1a18",
    ),
];

const fn action(name: &'static str, version: &'static str, commit: &'static str) -> Action {
    Action {
        name,
        version,
        commit,
    }
}

/// The pinned action called `name` (`owner/repo`), if the table has it.
pub fn find(name: &str) -> Option<&'static Action> {
    ACTIONS.iter().find(|a| a.name == name)
}
