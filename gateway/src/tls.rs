//! The HTTPS listener's TLS settings: Mozilla's intermediate profile (TLS 1.2 and
//! 1.3), HTTP/2 offered by ALPN, and a certificate per SNI name from `[[tls.sni]]`
//! (the default certificate for other names and for clients without SNI).
use crate::app::AppError;
use pingora::listeners::tls::TlsSettings as ListenerTls;
use pingora::tls::ssl::{NameType, SniError, SslAcceptor, SslContext, SslFiletype, SslMethod};
use sekisho_config::{CertFiles, TlsSettings};

/// A context holding one certificate, to switch to during the handshake.
fn context(files: &CertFiles) -> Result<SslContext, AppError> {
    let fail = |what: &str, e: &dyn std::fmt::Display| {
        AppError::Config(format!("tls: {what} {}: {e}", files.cert.display()))
    };
    let mut b = SslAcceptor::mozilla_intermediate_v5(SslMethod::tls())
        .map_err(|e| fail("acceptor for", &e))?;
    b.set_private_key_file(&files.key, SslFiletype::PEM)
        .map_err(|e| fail("key of", &e))?;
    b.set_certificate_chain_file(&files.cert)
        .map_err(|e| fail("certificate", &e))?;
    b.check_private_key()
        .map_err(|e| fail("key does not match", &e))?;
    Ok(b.build().into_context())
}

pub fn listener_settings(t: &TlsSettings) -> Result<ListenerTls, AppError> {
    let cert = t.default_cert.cert.to_string_lossy();
    let key = t.default_cert.key.to_string_lossy();
    let mut settings = ListenerTls::intermediate(&cert, &key)
        .map_err(|e| AppError::Config(format!("tls: certificate {cert}: {e}")))?;
    // Fails at start, not at the first handshake, when a file is wrong.
    context(&t.default_cert)?;
    if t.http2 {
        settings.enable_h2();
    }
    if !t.sni.is_empty() {
        let by_name: Vec<(Vec<String>, SslContext)> = t
            .sni
            .iter()
            .map(|s| Ok((s.hosts.clone(), context(&s.files)?)))
            .collect::<Result<_, AppError>>()?;
        let table = t.clone();
        settings.set_servername_callback(move |ssl, _alert| {
            let name = ssl.servername(NameType::HOST_NAME).map(str::to_string);
            let chosen = table.cert_for(name.as_deref());
            if let Some((_, ctx)) = by_name
                .iter()
                .zip(&table.sni)
                .find(|(_, s)| &s.files == chosen)
                .map(|(pair, _)| pair)
            {
                ssl.set_ssl_context(ctx)
                    .map_err(|_| SniError::ALERT_FATAL)?;
            }
            Ok(())
        });
    }
    Ok(settings)
}
