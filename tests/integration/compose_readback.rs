//! Compose read-backs: a spec is generated, and the real `docker-compose config` resolves
//! the compose file (with no profile flag, as `docker compose up` reads it, and with
//! `--profile '*'`; with and without the variables the file interpolates). Each test
//! compares what compose resolves with what the spec means.

use std::process::Command;

use serde_json::{Value as Json, json};

use crate::support::generate::{Generated, generate_text};
use crate::support::repo::Output;
use crate::support::validators::{require_tool, search_path};

/// `docker-compose config --format json` of the generated file under `env` (only these
/// variables, nothing from the test's own environment) and profile `flags`.
fn resolve(g: &Generated, flags: &[&str], env: &[(&str, &str)]) -> Result<Json, String> {
    let mut cmd = Command::new(require_tool("docker-compose"));
    cmd.args(["-f", "compose.yaml"])
        .args(flags)
        .args(["config", "--format", "json"])
        .current_dir(g.dir.path())
        .env_clear()
        .env("PATH", search_path())
        .env("HOME", std::env::temp_dir())
        .env("NO_COLOR", "1")
        .envs(env.iter().copied());
    let out = Output::of(&mut cmd);
    if !out.status.success() {
        return Err(out.to_string());
    }
    serde_json::from_str(&out.stdout).map_err(|e| format!("{e}: {}", out.stdout))
}

/// The resolved service `name`, or a panic with what compose said.
fn service(g: &Generated, flags: &[&str], env: &[(&str, &str)], name: &str) -> Json {
    let all = resolve(g, flags, env).unwrap_or_else(|e| panic!("compose refused: {e}"));
    all["services"][name].clone()
}

fn service_names(g: &Generated, flags: &[&str]) -> Vec<String> {
    let all = resolve(g, flags, &[]).unwrap_or_else(|e| panic!("compose refused: {e}"));
    let mut names: Vec<String> = all["services"]
        .as_object()
        .expect("services")
        .keys()
        .cloned()
        .collect();
    names.sort();
    names
}

const WORKERS: &str = r#"project demo version="1.0.0"

variant cpu default=#true
variant gpu {
    gpu count=1
}

stage runtime from="alpine:3.20" {
    cmd "sleep" "infinity"
}

image worker stage=runtime

service web image="nginx:1.27" {
    depends-on "worker-gpu" required=#false
}

service worker-cpu image=worker variant=cpu
service worker-gpu image=worker variant=gpu
"#;

#[test]
fn compose_plain_up_starts_the_default_variant_and_tolerates_an_optional_dependency() {
    let g = generate_text(WORKERS);
    assert_eq!(service_names(&g, &[]), ["web", "worker-cpu"]);
    assert_eq!(
        service_names(&g, &["--profile", "*"]),
        ["web", "worker-cpu", "worker-gpu"]
    );
    let web = service(&g, &["--profile", "gpu"], &[], "web");
    assert_eq!(
        web["depends_on"],
        json!({"worker-gpu": {"condition": "service_started", "required": false}})
    );
    let gpu = service(&g, &["--profile", "gpu"], &[], "worker-gpu");
    assert_eq!(gpu["profiles"], json!(["gpu"]));
    let cpu = service(&g, &[], &[], "worker-cpu");
    assert_eq!(cpu.get("profiles"), None, "{cpu}");
}

const REDIS: &str = r#"project demo version="1.0.0"

stage runtime from="alpine:3.20" {
    cmd "sleep" "infinity"
}

image app stage=runtime

service app image=app {
    port (expand)"${APP_PORT:-8080}:8080"
    volume (expand)"${DATA_DIR:-./data}:/data"
    env REDIS_URL=(expand)"redis://:${REDIS_PASSWORD:-changeme}@redis:6379"
    env PRICE="$5" HOME_DIR="${HOME}"
    depends-on redis
}

service redis image=(expand)"redis:${REDIS_TAG:-7-alpine}" {
    command "redis-server" "--requirepass" (expand)"${REDIS_PASSWORD:-changeme}" "$literal"
    healthcheck (expand)"redis-cli -a ${REDIS_PASSWORD:-changeme} ping" interval="5s"
}
"#;

/// What compose makes of the Redis spec's interpolated fields when `password`, `port`,
/// `tag` and `data` are what it gives for the variables.
fn expect_redis(g: &Generated, env: &[(&str, &str)], [password, port, tag, data]: [&str; 4]) {
    for flags in [&[][..], &["--profile", "*"][..]] {
        let app = service(g, flags, env, "app");
        assert_eq!(
            app["environment"],
            json!({
                "REDIS_URL": format!("redis://:{password}@redis:6379"),
                "PRICE": "$$5",
                "HOME_DIR": "$${HOME}",
            }),
            "compose keeps `$$` in its resolved output; a container sees `$`"
        );
        assert_eq!(app["ports"][0]["published"], json!(port));
        assert_eq!(app["ports"][0]["target"], json!(8080));
        assert_eq!(app["volumes"][0]["source"], json!(data));
        assert_eq!(app["volumes"][0]["target"], json!("/data"));
        let redis = service(g, flags, env, "redis");
        assert_eq!(redis["image"], json!(format!("redis:{tag}")));
        assert_eq!(
            redis["command"],
            json!(["redis-server", "--requirepass", password, "$$literal"])
        );
        assert_eq!(
            redis["healthcheck"]["test"],
            json!(["CMD-SHELL", format!("redis-cli -a {password} ping")])
        );
    }
}

#[test]
fn compose_interpolates_expand_values_and_keeps_other_dollars_literal() {
    let g = generate_text(REDIS);
    let here = g.dir.path().join("data");
    expect_redis(
        &g,
        &[],
        ["changeme", "8080", "7-alpine", here.to_str().unwrap()],
    );
    let env = [
        ("REDIS_PASSWORD", "s3cret"),
        ("APP_PORT", "9000"),
        ("REDIS_TAG", "8"),
        ("DATA_DIR", "/srv/data"),
    ];
    expect_redis(&g, &env, ["s3cret", "9000", "8", "/srv/data"]);
    let plan = g.plan();
    let redis = &plan["services"][1];
    assert_eq!(redis["name"], "redis");
    assert_eq!(
        redis["image"], "redis:7-alpine",
        "the plan resolves as compose does"
    );
}

/// The service settings a ROCm or OpenVINO service needs, passed through as compose
/// reads them; `env-file` with `required=#false` is read when present and skipped when
/// absent, and an `(expand)` path is interpolated.
#[test]
fn compose_reads_the_passed_through_service_settings() {
    let g = generate_text(
        r#"project demo version="1.0.0"

stage runtime from="alpine:3.20" {
    cmd "sleep" "infinity"
}

image app stage=runtime

service app image=app {
    container-name "demo-app"
    pull-policy "build"
    entrypoint "/bin/sh" "-c"
    command "exec sleep infinity"
    env-file ".env" required=#false
    env-file (expand)"${ENV_DIR:-.}/app.env" required=#false
    device "/dev/kfd" "/dev/dri:/dev/dri:rwm"
    device-cgroup-rule "c 189:* rmw"
    group-add "video" "44"
    shm-size "1gb"
    extra-host "host.docker.internal:host-gateway" "db=10.0.0.2"
    tty
    stop-signal "SIGINT"
}
"#,
    );
    let mut app = service(&g, &[], &[], "app");
    let object = app.as_object_mut().expect("a service");
    object.remove("build");
    object.remove("networks");
    let expected = json!({
        "container_name": "demo-app",
        "image": "app:latest",
        "pull_policy": "build",
        "entrypoint": ["/bin/sh", "-c"],
        "command": ["exec sleep infinity"],
        "devices": [
            {"source": "/dev/kfd", "target": "/dev/kfd", "permissions": "rwm"},
            {"source": "/dev/dri", "target": "/dev/dri", "permissions": "rwm"},
        ],
        "device_cgroup_rules": ["c 189:* rmw"],
        "group_add": ["video", "44"],
        "shm_size": "1073741824",
        "extra_hosts": ["db=10.0.0.2", "host.docker.internal=host-gateway"],
        "tty": true,
        "stop_signal": "SIGINT",
    });
    assert_eq!(app, expected);
    std::fs::write(g.path(".env"), "FROM_DOT_ENV=1\n").unwrap();
    std::fs::create_dir(g.path("conf")).unwrap();
    std::fs::write(g.path("conf/app.env"), "FROM_APP_ENV=2\n").unwrap();
    let app = service(&g, &[], &[("ENV_DIR", "conf")], "app");
    assert_eq!(
        app["environment"],
        json!({"FROM_DOT_ENV": "1", "FROM_APP_ENV": "2"})
    );
}

/// A GPU on an external image (the service's own `gpu`), by device ids or by count.
#[test]
fn compose_reserves_a_services_own_gpu() {
    let g = generate_text(
        r#"project demo version="1.0.0"

service ollama image="ollama/ollama:0.3.0" {
    gpu device-ids="0 2" capabilities="gpu compute"
}

service whisper image="onerahmet/openai-whisper-asr-webservice:v1.4.1-gpu" {
    gpu count=(expand)"${WHISPER_GPUS:-1}"
}
"#,
    );
    let devices = |name: &str| {
        service(&g, &[], &[], name)["deploy"]["resources"]["reservations"]["devices"].clone()
    };
    assert_eq!(
        devices("ollama"),
        json!([{"driver": "nvidia", "device_ids": ["0", "2"], "capabilities": ["gpu", "compute"]}])
    );
    assert_eq!(
        devices("whisper"),
        json!([{"driver": "nvidia", "count": 1, "capabilities": ["gpu"]}])
    );
}

/// Declared networks (one internal) and each service's attachments and log settings.
#[test]
fn compose_reads_networks_and_logging() {
    let g = generate_text(
        r#"project demo version="1.0.0"

network backend internal=#true
network frontend driver="bridge"

service web image="nginx:1.27" {
    network "frontend" "backend"
    logging "json-file" max-size="10m" max-file="3"
}

service db image="postgres:16" {
    network "backend"
    logging "local"
}
"#,
    );
    let all = resolve(&g, &[], &[]).unwrap_or_else(|e| panic!("compose refused: {e}"));
    assert_eq!(
        all["networks"],
        json!({
            "backend": {"name": "demo_backend", "ipam": {}, "internal": true},
            "frontend": {"name": "demo_frontend", "driver": "bridge", "ipam": {}},
        })
    );
    let web = &all["services"]["web"];
    assert_eq!(web["networks"], json!({"backend": null, "frontend": null}));
    assert_eq!(
        web["logging"],
        json!({"driver": "json-file", "options": {"max-size": "10m", "max-file": "3"}})
    );
    let db = &all["services"]["db"];
    assert_eq!(db["networks"], json!({"backend": null}));
    assert_eq!(db["logging"], json!({"driver": "local"}));
}

/// A variant's GPU count from the environment, with a default.
#[test]
fn compose_interpolates_a_gpu_count() {
    let g = generate_text(
        r#"project demo version="1.0.0"

variant gpu {
    gpu count=(expand)"${GPU_COUNT:-1}"
}

stage runtime from="alpine:3.20" {
    cmd "sleep" "infinity"
}

image app stage=runtime

service app image=app
"#,
    );
    let count = |env: &[(&str, &str)]| {
        service(&g, &[], env, "app")["deploy"]["resources"]["reservations"]["devices"][0]["count"]
            .clone()
    };
    assert_eq!(count(&[]), json!(1));
    assert_eq!(count(&[("GPU_COUNT", "2")]), json!(2));
    assert_eq!(count(&[("GPU_COUNT", "all")]), json!(-1), "compose's `all`");
}
