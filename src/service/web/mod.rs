//! The web page: `GET /` (with `?meeting=M&token=T`, optionally `&start=1`) serves a page that
//! joins the meeting, publishes the camera over WHIP, shows the room's Together Mode stream
//! over WHEP with each seated participant's name over their seat (from the events
//! WebSocket's seating map, in the page's own sceneSize), and leaves. Its HTML, JS and CSS
//! are compiled in (`include_str!`); no build step. The page holds no secret: the token comes
//! from its URL or its form, and every call it makes is checked like any other client's.

use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("index.html");
const APP_JS: &str = include_str!("app.js");
const STYLE_CSS: &str = include_str!("style.css");

/// Who may load what the page loads: itself only (its API calls, WebSocket and media).
const CSP: &str = "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; img-src 'self' data:";

fn page(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CSP),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            // The URL may carry a token: never send it on as a referrer.
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        body,
    )
}

/// `GET /`, `GET /web/app.js`, `GET /web/style.css`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route(
            "/",
            get(|| async { page("text/html; charset=utf-8", INDEX) }),
        )
        .route(
            "/web/app.js",
            get(|| async { page("text/javascript; charset=utf-8", APP_JS) }),
        )
        .route(
            "/web/style.css",
            get(|| async { page("text/css; charset=utf-8", STYLE_CSS) }),
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_loads_its_own_script_and_style() {
        assert!(INDEX.contains("src=\"/web/app.js\""));
        assert!(INDEX.contains("href=\"/web/style.css\""));
        // The script speaks WHIP, WHEP and the events WebSocket on this service's routes.
        for route in ["/whip/", "/whep/", "/events", "togetherMode/start"] {
            assert!(APP_JS.contains(route), "{route}");
        }
    }
}
