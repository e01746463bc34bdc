//! The body read deadline: a client has `server.body_read_timeout_seconds`
//! from the end of a request's head to send its whole body. A client that
//! trickles its body (one byte a second against a large `Content-Length`)
//! would otherwise hold a connection and a worker's attention for as long
//! as it likes. The head has its own deadline, kept by the HTTP server
//! itself (`server.head_read_timeout_seconds`).

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use actix_web::body::{BoxBody, EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::{HttpMessage, ResponseError};
use futures_util::Stream;

use crate::web::error::Transport;

/// How long a body may take (app data).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadline(pub Duration);

/// A body stream that ends with a timeout error once the deadline passes.
struct Deadline<S> {
    inner: S,
    sleep: Pin<Box<tokio::time::Sleep>>,
    fired: Arc<AtomicBool>,
    after: Duration,
}

impl<S> Stream for Deadline<S>
where
    S: Stream<Item = Result<Bytes, PayloadError>> + Unpin,
{
    type Item = Result<Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.fired.load(Ordering::Relaxed) {
            return Poll::Ready(None);
        }
        if let Poll::Ready(item) = Pin::new(&mut self.inner).poll_next(cx) {
            return Poll::Ready(item);
        }
        match self.sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                self.fired.store(true, Ordering::Relaxed);
                let message = format!(
                    "the request body did not arrive within {} s",
                    self.after.as_secs()
                );
                Poll::Ready(Some(Err(PayloadError::Io(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    message,
                )))))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Middleware: puts the body of every request that has one under the
/// deadline; a request whose body did not arrive in time is answered 408
/// `REQUEST_TIMEOUT` and its connection closed, whatever the handler made
/// of the cut-off body.
pub async fn body_deadline(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody, BoxBody>>, actix_web::Error> {
    let has_body = req.headers().contains_key(TRANSFER_ENCODING)
        || req
            .headers()
            .get(CONTENT_LENGTH)
            .is_some_and(|length| length.as_bytes() != b"0");
    let after = req.app_data::<BodyDeadline>().map(|d| d.0);
    let (Some(after), true) = (after, has_body) else {
        return Ok(next.call(req).await?.map_into_left_body());
    };
    let fired = Arc::new(AtomicBool::new(false));
    let stream = Deadline {
        inner: req.take_payload(),
        sleep: Box::pin(tokio::time::sleep(after)),
        fired: fired.clone(),
        after,
    };
    req.set_payload(Payload::from(
        Box::pin(stream) as Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>
    ));
    let response = next.call(req).await?;
    if !fired.load(Ordering::Relaxed) {
        return Ok(response.map_into_left_body());
    }
    let error = Transport::RequestTimeout(format!(
        "the request body did not arrive within {} s (server.body_read_timeout_seconds)",
        after.as_secs()
    ));
    let mut answer = error.error_response();
    answer
        .head_mut()
        .set_connection_type(actix_web::http::ConnectionType::Close);
    let (request, _) = response.into_parts();
    Ok(ServiceResponse::new(request, answer).map_into_right_body())
}
