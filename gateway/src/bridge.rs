//! Hands a request under the UI prefix to the login-ui `Router`, in-process.
//!
//! Pingora has no tower adapter, so the request head is converted to an
//! `http::Request`, the body is read here under the configured cap (Pingora sets
//! none), the Router is called with `oneshot`, and its response is written back.
use bytes::{Bytes, BytesMut};
use http_body_util::BodyExt;
use pingora::http::ResponseHeader;
use pingora::proxy::Session;
use sekisho_login_ui::{ClientInfo, ErrorKind, Requester, UiContext};
use tower::ServiceExt;

/// Serves one UI request; returns the status written.
pub async fn serve(
    session: &mut Session,
    router: &axum::Router,
    ui: &UiContext,
    client: ClientInfo,
    hsts: Option<&http::HeaderValue>,
) -> pingora::Result<u16> {
    let cap = ui.config.max_body_bytes;
    let declared = session
        .req_header()
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > cap as u64) {
        return too_large(session, ui, &client, hsts).await;
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = session.read_request_body().await? {
        if body.len() + chunk.len() > cap {
            return too_large(session, ui, &client, hsts).await;
        }
        body.extend_from_slice(&chunk);
    }

    let head = session.req_header();
    let mut builder = http::Request::builder()
        .method(head.method.clone())
        .uri(head.uri.clone())
        .version(head.version);
    if let Some(headers) = builder.headers_mut() {
        headers.clone_from(&head.headers);
    }
    let request = match builder
        .extension(client.clone())
        .body(axum::body::Body::from(body.freeze()))
    {
        Ok(r) => r,
        Err(_) => {
            return write(
                session,
                error(ui, session, ErrorKind::BadRequest, &client),
                hsts,
            )
            .await
        }
    };
    let response = match router.clone().oneshot(request).await {
        Ok(r) => r,
        Err(never) => match never {},
    };
    let (parts, body) = response.into_parts();
    let bytes = match body.collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            tracing::error!(error = %e, request_id = %client.request_id, "UI response body failed");
            Bytes::new()
        }
    };
    let mut out = http::Response::from_parts(parts, bytes);
    out.headers_mut().remove(http::header::TRANSFER_ENCODING);
    write_bytes(session, out, hsts).await
}

fn error(
    ui: &UiContext,
    session: &Session,
    kind: ErrorKind,
    client: &ClientInfo,
) -> http::Response<Bytes> {
    let head = session.req_header();
    let here = head.uri.path_and_query().map_or("/", |pq| pq.as_str());
    let who = Requester {
        request_id: &client.request_id,
        ip: Some(client.ip),
        user: None,
    };
    ui.error_response(kind, &head.headers, here, &who)
        .map(Bytes::from)
}

async fn too_large(
    session: &mut Session,
    ui: &UiContext,
    client: &ClientInfo,
    hsts: Option<&http::HeaderValue>,
) -> pingora::Result<u16> {
    // The rest of the body stays unread, so this connection cannot be reused.
    session.set_keepalive(None);
    write(
        session,
        error(ui, session, ErrorKind::PayloadTooLarge, client),
        hsts,
    )
    .await
}

async fn write(
    session: &mut Session,
    resp: http::Response<Bytes>,
    hsts: Option<&http::HeaderValue>,
) -> pingora::Result<u16> {
    write_bytes(session, resp, hsts).await
}

/// Writes a complete local response (with `Strict-Transport-Security` when given: the
/// caller passes it on HTTPS connections only).
pub async fn write_bytes(
    session: &mut Session,
    resp: http::Response<Bytes>,
    hsts: Option<&http::HeaderValue>,
) -> pingora::Result<u16> {
    let (parts, body) = resp.into_parts();
    let status = parts.status.as_u16();
    let mut header = ResponseHeader::build(parts.status, Some(parts.headers.len() + 1))?;
    for (name, value) in &parts.headers {
        header.append_header(name.clone(), value.clone())?;
    }
    header.insert_header(http::header::CONTENT_LENGTH, body.len().to_string())?;
    if let Some(h) = hsts {
        header.insert_header(http::header::STRICT_TRANSPORT_SECURITY, h.clone())?;
    }
    let head_only = session.req_header().method == http::Method::HEAD;
    session
        .write_response_header(Box::new(header), head_only)
        .await?;
    if !head_only {
        session.write_response_body(Some(body), true).await?;
    }
    Ok(status)
}
