//! `caxton-run SCRIPT --dashboard ADDR`: a local web page that shows the
//! run as it goes (the measurement under way with its rate and p50/p99 so
//! far, finished measurements, thresholds as they are decided) and, at the
//! end, the same report as `--html`.
//!
//! The page is the `--html` page with an event stream (server-sent events
//! at `/events`) that sends the whole page state again every half second
//! when it changed. The server runs on a thread and a one-thread runtime of
//! its own, so the node's workers measure the script, not the viewer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;
use caxton::report::html::{self, Curve, PageState, Progress, render_html};
use caxton::script::ScriptContext;
use http_body_util::channel::Channel;
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Request, Response, StatusCode};
use tokio::sync::{oneshot, watch};

/// How often the page's state is looked at.
const PERIOD: Duration = Duration::from_millis(500);
/// How long the end waits for open pages to receive the final report.
const FINAL_DELIVERY: Duration = Duration::from_secs(3);
/// The path of the event stream.
const EVENTS: &str = "/events";

/// The page server of one run.
pub(crate) struct Dashboard {
    finish: oneshot::Sender<PageState>,
    thread: JoinHandle<()>,
}

/// The state pages see now, with its JSON (made once for every page).
struct Snapshot {
    state: PageState,
    json: String,
}

impl Dashboard {
    /// Listens on `addr` and shows what `ctx` records; the run's report
    /// will be compared with `baseline_curves` at the end.
    pub(crate) fn start(
        addr: SocketAddr,
        ctx: &ScriptContext,
        baseline_curves: Vec<Curve>,
    ) -> anyhow::Result<Self> {
        let listener = std::net::TcpListener::bind(addr)
            .with_context(|| format!("listening for the dashboard on {addr}"))?;
        listener.set_nonblocking(true)?;
        let bound = listener.local_addr()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the dashboard's runtime")?;
        let mut source = Source {
            ctx: ctx.clone(),
            baseline_curves,
            curves: Vec::new(),
            seen: 0,
            started: Instant::now(),
        };
        let (publish, pages) = watch::channel(Arc::new(source.snapshot()));
        let (finish, finished) = oneshot::channel();
        let thread = std::thread::Builder::new()
            .name("dashboard".into())
            .spawn(move || {
                runtime.block_on(serve(listener, source, publish, pages, finished));
            })
            .context("starting the dashboard's thread")?;
        eprintln!("dashboard: http://{bound}/");
        Ok(Dashboard { finish, thread })
    }

    /// Shows `state` (the finished report) to every open page, waits a
    /// little for them to receive it, and stops serving.
    pub(crate) fn finish(self, state: PageState) {
        let _ = self.finish.send(state);
        let _ = self.thread.join();
    }
}

/// Serves pages until the final state is given and delivered.
async fn serve(
    listener: std::net::TcpListener,
    mut source: Source,
    publish: watch::Sender<Arc<Snapshot>>,
    pages: watch::Receiver<Arc<Snapshot>>,
    mut finished: oneshot::Receiver<PageState>,
) {
    let streams = Arc::new(AtomicUsize::new(0));
    let listener = match tokio::net::TcpListener::from_std(listener) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("dashboard: {e}");
            return;
        }
    };
    let accept = tokio::spawn(accept(listener, pages, streams.clone()));
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let last = loop {
        tokio::select! {
            _ = tick.tick() => {
                let next = source.snapshot();
                // Only a change wakes the pages.
                publish.send_if_modified(|now| {
                    let changed = now.json != next.json;
                    if changed {
                        *now = Arc::new(next);
                    }
                    changed
                });
            }
            last = &mut finished => break last.ok(),
        }
    };
    if let Some(mut state) = last {
        state.live = Some(EVENTS.into());
        publish.send_replace(Arc::new(Snapshot::of(state)));
        let deadline = Instant::now() + FINAL_DELIVERY;
        while streams.load(Ordering::Acquire) > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    accept.abort();
}

/// Accepts HTTP/1 connections.
async fn accept(
    listener: tokio::net::TcpListener,
    pages: watch::Receiver<Arc<Snapshot>>,
    streams: Arc<AtomicUsize>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let (pages, streams) = (pages.clone(), streams.clone());
        let service = hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let response = respond(&req, &pages, &streams);
            async move { Ok::<_, Infallible>(response) }
        });
        tokio::spawn(async move {
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
    }
}

type Body = BoxBody<Bytes, Infallible>;

fn respond<B>(
    req: &Request<B>,
    pages: &watch::Receiver<Arc<Snapshot>>,
    streams: &Arc<AtomicUsize>,
) -> Response<Body> {
    match req.uri().path() {
        "/" | "/index.html" => {
            let page = render_html(&pages.borrow().state);
            response(StatusCode::OK, "text/html; charset=utf-8", page)
        }
        EVENTS => events(pages.clone(), streams.clone()),
        _ => response(
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            "not found: the dashboard is at /\n".into(),
        ),
    }
}

fn response(status: StatusCode, kind: &str, body: String) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", kind)
        .header("cache-control", "no-store")
        .body(Full::new(Bytes::from(body)).boxed())
        .expect("a valid response")
}

/// The event stream: the state now, then each change, until the final one.
fn events(mut pages: watch::Receiver<Arc<Snapshot>>, streams: Arc<AtomicUsize>) -> Response<Body> {
    let (mut sender, body) = Channel::<Bytes, Infallible>::new(2);
    streams.fetch_add(1, Ordering::AcqRel);
    tokio::spawn(async move {
        let _open = Open(streams);
        loop {
            let now = pages.borrow_and_update().clone();
            let event = format!("event: state\ndata: {}\n\n", now.json);
            if sender.send_data(Bytes::from(event)).await.is_err() || now.state.finished {
                break;
            }
            if pages.changed().await.is_err() {
                break;
            }
        }
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-store")
        .body(body.boxed())
        .expect("a valid response")
}

/// Counts an open event stream while it lives.
struct Open(Arc<AtomicUsize>);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Snapshot {
    fn of(state: PageState) -> Self {
        let json = state.to_json();
        Snapshot { state, json }
    }
}

/// Where the page state comes from while the script runs.
struct Source {
    ctx: ScriptContext,
    baseline_curves: Vec<Curve>,
    /// The curves of the measurements finished so far (each made once).
    curves: Vec<Curve>,
    /// How many histograms `curves` has looked at (empty ones have none).
    seen: usize,
    started: Instant,
}

impl Source {
    fn snapshot(&mut self) -> Snapshot {
        let mut report = self.ctx.report_so_far();
        report.elapsed_s = self.started.elapsed().as_secs_f64();
        let seen = self.seen;
        let (new, total) = self.ctx.with_histograms(|all| {
            let fresh = all.get(seen..).unwrap_or_default();
            let curves = html::curves(fresh.iter().map(|(name, h)| (name.as_str(), h)));
            (curves, all.len())
        });
        self.seen = total;
        self.curves.extend(new);
        let progress = self
            .ctx
            .live
            .as_ref()
            .and_then(|live| live.figures())
            .map(|f| Progress {
                name: f.name,
                elapsed_s: f.elapsed.as_secs_f64(),
                expected_s: f.expected.map(|d| d.as_secs_f64()),
                count: f.count,
                errors: f.errors,
                rate: f.rate,
                p50: f.p50,
                p99: f.p99,
            });
        let mut state =
            PageState::finished(report, self.curves.clone(), self.baseline_curves.clone());
        state.live = Some(EVENTS.into());
        state.progress = progress;
        state.finished = false;
        Snapshot::of(state)
    }
}
