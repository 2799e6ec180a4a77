//! `deploy/kubernetes/`: the manifests pass a real schema validator
//! (PyPI's `kubernetes-validate`, strict), and the StatefulSet's container
//! command starts with the arguments and environment the manifests give it
//! (its volumes mapped to directories holding what the ConfigMap and the
//! Secrets of `make-secrets.sh` put there), becomes ready on its probes,
//! and stops on SIGTERM within its grace period. No cluster is reachable
//! here; the tests skip, saying why, without `kubernetes-validate` or
//! Python's `yaml` (CI installs both).

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::util::scratch;

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/kubernetes")
}

/// The Secrets manifest `make-secrets.sh` writes for 3 replicas.
fn make_secrets(dir: &Path) -> PathBuf {
    let out = Command::new("bash")
        .arg(manifests().join("make-secrets.sh"))
        .arg("3")
        .env("CAXTON_RUN", env!("CARGO_BIN_EXE_caxton-run"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = dir.join("secrets.yaml");
    std::fs::write(&file, &out.stdout).unwrap();
    file
}

fn has_validator() -> bool {
    Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

fn validate(files: &[PathBuf]) -> std::process::Output {
    Command::new("kubernetes-validate")
        .args(["--strict", "--no-warn"])
        .args(files)
        .output()
        .unwrap()
}

fn yaml_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifests())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_manifests_pass_a_strict_kubernetes_schema_validator() {
    if !has_validator() {
        eprintln!(
            "skipped: kubernetes-validate is not installed (pip install kubernetes-validate)"
        );
        return;
    }
    let dir = scratch("k8s-validate");
    let mut files = yaml_files();
    let names: Vec<String> = files
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        [
            "configmap.yaml",
            "job.yaml",
            "service.yaml",
            "statefulset.yaml"
        ]
    );
    files.push(make_secrets(&dir));
    let out = validate(&files);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("{text}");
    assert!(out.status.success(), "{text}");
    assert_eq!(text.matches("passed for resource").count(), 6, "{text}");
    // The validator does validate: a misspelt field fails it.
    let broken = dir.join("broken.yaml");
    let original = std::fs::read_to_string(manifests().join("statefulset.yaml")).unwrap();
    std::fs::write(
        &broken,
        original.replace("readinessProbe", "readynessProbe"),
    )
    .unwrap();
    assert!(!validate(&[broken]).status.success());
    let _ = std::fs::remove_dir_all(&dir);
}

/// The documents of a YAML file, as JSON (through Python's yaml).
fn yaml(file: &Path) -> Option<Vec<Value>> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys, yaml, json; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(file)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

/// `$(VAR)` references expanded as Kubernetes does.
fn expand(text: &str, env: &HashMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in env {
        out = out.replace(&format!("$({k})"), v);
    }
    out
}

#[test]
fn the_statefulsets_container_starts_as_the_manifests_say_and_stops_on_sigterm() {
    let Some(sts) = yaml(&manifests().join("statefulset.yaml")) else {
        eprintln!("skipped: python3 with the yaml module is not installed (pip install pyyaml)");
        return;
    };
    let dir = scratch("k8s-entrypoint");
    let config = &yaml(&manifests().join("configmap.yaml")).unwrap()[0];
    let secrets = yaml(&make_secrets(&dir)).unwrap();
    let secret = |name: &str| {
        secrets
            .iter()
            .find(|s| s["metadata"]["name"] == name)
            .unwrap_or_else(|| panic!("no secret {name}"))
            .clone()
    };
    let pod = &sts[0]["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    let pod_name = "caxton-0";

    // Each volume's files in a directory of their own, as the kubelet
    // would mount them.
    let mut mounts: Vec<(String, PathBuf)> = Vec::new();
    for volume in pod["volumes"].as_array().unwrap() {
        let name = volume["name"].as_str().unwrap();
        let at = dir.join(name);
        std::fs::create_dir_all(&at).unwrap();
        let (data, items): (HashMap<String, Vec<u8>>, &Value) =
            if let Some(cm) = volume.get("configMap") {
                let data = config["data"]
                    .as_object()
                    .unwrap()
                    .iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap().as_bytes().to_vec()))
                    .collect();
                (data, &cm["items"])
            } else {
                let s = &volume["secret"];
                let found = secret(s["secretName"].as_str().unwrap());
                let mut data: HashMap<String, Vec<u8>> = HashMap::new();
                if let Some(string) = found["stringData"].as_object() {
                    for (k, v) in string {
                        data.insert(k.clone(), v.as_str().unwrap().as_bytes().to_vec());
                    }
                }
                if let Some(encoded) = found["data"].as_object() {
                    use base64::Engine as _;
                    for (k, v) in encoded {
                        let bytes = base64::engine::general_purpose::STANDARD
                            .decode(v.as_str().unwrap())
                            .unwrap();
                        data.insert(k.clone(), bytes);
                    }
                }
                (data, &s["items"])
            };
        match items.as_array() {
            Some(items) => {
                for item in items {
                    let key = item["key"].as_str().unwrap();
                    std::fs::write(at.join(item["path"].as_str().unwrap()), &data[key]).unwrap();
                }
            }
            None => {
                for (key, bytes) in &data {
                    std::fs::write(at.join(key), bytes).unwrap();
                }
            }
        }
        mounts.push((name.to_string(), at));
    }
    // The PersistentVolumeClaim's volume: an empty directory.
    let data_dir = dir.join("data");
    std::fs::create_dir_all(&data_dir).unwrap();
    mounts.push(("data".into(), data_dir));
    let host_path = |container_path: &str| -> String {
        for mount in container["volumeMounts"].as_array().unwrap() {
            let at = mount["mountPath"].as_str().unwrap();
            if let Some(rest) = container_path.strip_prefix(at) {
                let name = mount["name"].as_str().unwrap();
                let (_, dir) = mounts.iter().find(|(n, _)| n == name).unwrap();
                return format!("{}{rest}", dir.display());
            }
        }
        container_path.to_string()
    };

    // The environment the manifest gives, from the downward API and secrets.
    let mut env = HashMap::new();
    for var in container["env"].as_array().unwrap() {
        let name = var["name"].as_str().unwrap().to_string();
        let from = &var["valueFrom"];
        let value = if from["fieldRef"]["fieldPath"] == "metadata.name" {
            pod_name.to_string()
        } else if let Some(key) = from["secretKeyRef"]["key"].as_str() {
            let s = secret(from["secretKeyRef"]["name"].as_str().unwrap());
            s["stringData"][key].as_str().unwrap().to_string()
        } else {
            panic!("unexpected env source {var}")
        };
        env.insert(name, value);
    }
    let command = container["command"][0].as_str().unwrap();
    assert_eq!(command, "caxton-run");
    // The manifest's arguments, the container paths mapped onto the
    // volumes' directories and the listeners onto free loopback ports.
    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| expand(a.as_str().unwrap(), &env))
        .map(|a| host_path(&a))
        .map(|a| match a.as_str() {
            "0.0.0.0:7700" | "0.0.0.0:9100" => "127.0.0.1:0".to_string(),
            _ => a,
        })
        .collect();
    assert!(args.contains(&pod_name.to_string()), "{args:?}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_caxton-run"))
        .args(&args)
        .envs(&env)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut probes = None;
    let mut events = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            panic!("not a JSON log line: {line}");
        };
        if event["event"] == "metrics" {
            probes = event["addr"]
                .as_str()
                .map(|a| a.parse::<std::net::SocketAddr>().unwrap());
        }
        events.push(event["event"].as_str().unwrap_or_default().to_string());
        if event["event"] == "ready" {
            break;
        }
    }
    assert!(events.contains(&"listening".to_string()), "{events:?}");
    let probes = probes.expect("the metrics listener started");
    // It runs with the identity the Secret gave it (and says so where
    // `caxton-run top --data-dir` looks).
    let held = std::fs::read_to_string(dir.join("data/data/fingerprint")).unwrap();
    let given = secret("caxton-secrets")["stringData"]["fingerprint-caxton-0"].clone();
    assert_eq!(held, given.as_str().unwrap());
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        let path = container[probe]["httpGet"]["path"].as_str().unwrap();
        let page = super::net::http_get(probes, path);
        assert!(page.starts_with("HTTP/1.1 200"), "{probe} {path}: {page}");
    }
    // Its peers (the other pods' DNS names) do not resolve here; the node
    // is ready all the same (peers are linked in the background).
    let grace = Duration::from_secs(pod["terminationGracePeriodSeconds"].as_u64().unwrap());
    let start = Instant::now();
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        assert!(
            start.elapsed() < grace,
            "not stopped within the grace period"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|l| l.contains("\"stopped\"")), "{rest:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_jobs_workflow_compiles() {
    let Some(config) = yaml(&manifests().join("configmap.yaml")) else {
        eprintln!("skipped: python3 with the yaml module is not installed (pip install pyyaml)");
        return;
    };
    let source = config[0]["data"]["distributed.rhai"].as_str().unwrap();
    let t = super::util::node();
    let ctx = caxton::script::ScriptContext::new(t.node.clone(), "distributed.rhai");
    let runner = caxton::script::Runner::new(&ctx, caxton::script::ScriptLimits::default());
    if let Err(e) = runner.compile("configmap.yaml: distributed.rhai", source) {
        panic!("{e}");
    }
    let node = config[0]["data"]["node.toml"].as_str().unwrap();
    caxton::core::tenant::parse_node_config(node).unwrap();
}
