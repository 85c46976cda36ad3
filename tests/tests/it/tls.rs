//! The HTTPS listener with a test CA made by `openssl`: HTTP/2 by ALPN, the
//! certificate chosen by SNI, HSTS, `Secure` `__Host-` cookies, and the plain listener
//! redirecting to HTTPS.
use crate::harness::*;
use std::path::Path;
use std::process::Command;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and two server certificates: `a` for 127.0.0.1, `b` for other.test.
pub(crate) fn test_pki(dir: &Path) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-days",
            "2",
            "-subj",
            "/CN=Sekisho Test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
        ],
    );
    for (name, san) in [("a", "IP:127.0.0.1,DNS:localhost"), ("b", "DNS:other.test")] {
        let (key, csr, pem, ext) = (
            format!("{name}.key"),
            format!("{name}.csr"),
            format!("{name}.pem"),
            format!("{name}.ext"),
        );
        std::fs::write(
            dir.join(&ext),
            format!("subjectAltName={san}\nextendedKeyUsage=serverAuth\n"),
        )
        .unwrap();
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                &key,
                "-out",
                &csr,
                "-subj",
                &format!("/CN={name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                &pem,
                "-days",
                "2",
                "-extfile",
                &ext,
            ],
        );
    }
}

#[test]
fn https_with_http2_sni_hsts_and_redirect() {
    let pki = tempfile::tempdir().unwrap();
    test_pki(pki.path());
    let tls_port = sekisho_testkit::free_port();
    let p = |f: &str| pki.path().join(f).display().to_string();
    let extra = format!(
        "\n[tls]\nlisten = \"127.0.0.1:{tls_port}\"\ncert = \"{}\"\nkey = \"{}\"\nhsts = \"max-age=31536000\"\n\n[[tls.sni]]\nhosts = [\"other.test\"]\ncert = \"{}\"\nkey = \"{}\"\n",
        p("a.pem"),
        p("a.key"),
        p("b.pem"),
        p("b.key"),
    );
    let gw = TestGateway::start_with(Store::Memory, &extra);
    let ca =
        reqwest::Certificate::from_pem(&std::fs::read(pki.path().join("ca.pem")).unwrap()).unwrap();
    let https = format!("https://127.0.0.1:{tls_port}");
    block_on(async {
        let c = reqwest::Client::builder()
            .add_root_certificate(ca.clone())
            .resolve(
                "other.test",
                format!("127.0.0.1:{tls_port}").parse().unwrap(),
            )
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();

        // HTTP/2 by ALPN, to the upstream, with HSTS.
        let resp = c.get(format!("{https}/public")).send().await.unwrap();
        assert_eq!(resp.status(), 200);
        assert_eq!(resp.version(), reqwest::Version::HTTP_2);
        assert_eq!(
            resp.headers()["strict-transport-security"],
            "max-age=31536000"
        );

        // SNI: other.test gets its own certificate (the default one does not name it,
        // so the handshake would fail verification).
        let resp = c
            .get(format!("https://other.test:{tls_port}/public"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);

        // Hosted pages over HTTPS set Secure __Host- cookies.
        let resp = c
            .get(format!("{https}/_sekisho/login"))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        assert!(resp.headers().contains_key("strict-transport-security"));
        let cookies: Vec<&str> = resp
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        assert!(!cookies.is_empty());
        for cookie in cookies {
            assert!(
                cookie.starts_with("__Host-") && cookie.contains("Secure"),
                "{cookie}"
            );
        }

        // The plain listener sends browsers to the same URL over HTTPS, without HSTS.
        let resp = c.get(gw.url("/members?tab=1")).send().await.unwrap();
        assert_eq!(resp.status(), 308);
        assert_eq!(
            resp.headers()["location"],
            format!("https://127.0.0.1:{tls_port}/members?tab=1").as_str()
        );
        assert!(!resp.headers().contains_key("strict-transport-security"));
        let metrics = crate::metrics::scrape(&gw).await;
        assert!(
            metrics
                .lines()
                .any(|l| l.starts_with("sekisho_requests_total{")
                    && l.contains("action=\"https_redirect\"")
                    && l.contains("status_class=\"3xx\"")
                    && l.ends_with(" 1")),
            "one redirect counted as such"
        );
    });
}
