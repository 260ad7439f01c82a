//! TLS to `tcp://` endpoints, as the docker CLI speaks it: `--tls` encrypts
//! without checking the server, `--tlsverify` checks the server's
//! certificate against the CA and its name against the host; a client
//! certificate is sent when one is given. Handshake failures become one
//! line naming the file or the certificate problem.

mod subject;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::net::TcpStream;
use tokio_rustls::rustls::{self, client::danger, crypto::CryptoProvider};
use tokio_rustls::{client::TlsStream, TlsConnector};

/// What the user asked for, with the files already chosen (flags, else
/// `DOCKER_CERT_PATH`, else `~/.docker`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSettings {
    /// `--tlsverify`: check the server against `ca`.
    pub verify: bool,
    pub ca: Option<PathBuf>,
    pub cert: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    #[error("{what} {path}: {error}")]
    File {
        what: &'static str,
        path: String,
        error: String,
    },
    #[error("--tlsverify needs a CA certificate (--tlscacert, or ca.pem in DOCKER_CERT_PATH or ~/.docker)")]
    NoCa,
    #[error("a client certificate needs its key and the key its certificate: got {0}")]
    HalfClientCert(String),
    #[error("TLS configuration: {0}")]
    Rustls(String),
}

/// A ready client configuration for one endpoint, and what its handshakes
/// learnt (the server certificate's subject, for the report).
#[derive(Debug, Clone)]
pub struct TlsClient {
    pub settings: TlsSettings,
    config: Arc<rustls::ClientConfig>,
    seen: Arc<Mutex<Option<String>>>,
}

impl PartialEq for TlsClient {
    fn eq(&self, other: &Self) -> bool {
        self.settings == other.settings
    }
}
impl Eq for TlsClient {}

impl TlsClient {
    pub fn new(settings: TlsSettings) -> Result<TlsClient, TlsConfigError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
        let inner = if settings.verify {
            let ca = settings.ca.as_deref().ok_or(TlsConfigError::NoCa)?;
            let mut roots = rustls::RootCertStore::empty();
            for c in read_certs("--tlscacert", ca)? {
                roots.add(c).map_err(|e| TlsConfigError::File {
                    what: "--tlscacert",
                    path: ca.display().to_string(),
                    error: e.to_string(),
                })?;
            }
            let v = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider.clone(),
            )
            .build()
            .map_err(|e| TlsConfigError::Rustls(e.to_string()))?;
            Some(v)
        } else {
            None
        };
        let seen = Arc::new(Mutex::new(None));
        let verifier = Arc::new(Recorder {
            inner,
            provider,
            seen: seen.clone(),
        });
        let builder = builder
            .dangerous()
            .with_custom_certificate_verifier(verifier);
        let config = match (&settings.cert, &settings.key) {
            (Some(c), Some(k)) => {
                let certs = read_certs("--tlscert", c)?;
                let key = PrivateKeyDer::from_pem_file(k).map_err(|e| TlsConfigError::File {
                    what: "--tlskey",
                    path: k.display().to_string(),
                    error: e.to_string(),
                })?;
                builder
                    .with_client_auth_cert(certs, key)
                    .map_err(|e| TlsConfigError::Rustls(e.to_string()))?
            }
            (None, None) => builder.with_no_client_auth(),
            (Some(c), None) | (None, Some(c)) => {
                return Err(TlsConfigError::HalfClientCert(c.display().to_string()))
            }
        };
        Ok(TlsClient {
            settings,
            config: Arc::new(config),
            seen,
        })
    }

    /// The server certificate's subject from the last handshake.
    pub fn server_subject(&self) -> Option<String> {
        self.seen.lock().ok().and_then(|s| s.clone())
    }

    /// "tls (server certificate CN=..., verified against ca.pem)".
    pub fn describe(&self) -> String {
        let subject = self
            .server_subject()
            .map(|s| format!("server certificate {s}"))
            .unwrap_or_else(|| "no handshake yet".into());
        let check = match (&self.settings.verify, &self.settings.ca) {
            (true, Some(ca)) => format!("verified against {}", ca.display()),
            _ => "not verified (--tls without --tlsverify)".into(),
        };
        let client = match &self.settings.cert {
            Some(c) => format!("client certificate {}", c.display()),
            None => "no client certificate".into(),
        };
        format!("tls ({subject}, {check}, {client})")
    }

    /// Connects and completes the handshake with `hostport`'s host as the
    /// server name.
    pub async fn connect(&self, hostport: &str) -> std::io::Result<TlsStream<TcpStream>> {
        let host = host_of(hostport);
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| std::io::Error::other(format!("invalid TLS server name {host:?}: {e}")))?;
        let tcp = TcpStream::connect(hostport).await?;
        let _ = tcp.set_nodelay(true);
        TlsConnector::from(self.config.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| match self.explain(&e) {
                Some(m) => std::io::Error::other(m),
                None => e,
            })
    }

    /// One clear line for a TLS failure anywhere in `e`'s chain (the
    /// handshake, or under TLS 1.3 the first read, where a server's refusal
    /// of the client certificate arrives), or None when it is not one.
    pub fn explain(&self, e: &(dyn std::error::Error + 'static)) -> Option<String> {
        use rustls::{AlertDescription as A, CertificateError as C, Error as E};
        let mut cur = Some(e);
        let mut found = None;
        while let Some(c) = cur {
            if let Some(r) = c.downcast_ref::<rustls::Error>() {
                found = Some(r.clone());
                break;
            }
            // io::Error hides its inner error from source() in some
            // versions; look inside it explicitly.
            if let Some(io) = c.downcast_ref::<std::io::Error>() {
                if let Some(r) = io.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                    found = Some(r.clone());
                    break;
                }
            }
            cur = c.source();
        }
        let err = found?;
        let ca = self
            .settings
            .ca
            .as_deref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "the CA file".into());
        let subject = self
            .server_subject()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default();
        Some(match err {
            E::InvalidCertificate(C::UnknownIssuer) => format!(
                "TLS: the server's certificate{subject} is not signed by the CA in {ca} (unknown authority)"
            ),
            E::InvalidCertificate(C::NotValidForName)
            | E::InvalidCertificate(C::NotValidForNameContext { .. }) => format!(
                "TLS: the server's certificate{subject} is not valid for the host name we connected to"
            ),
            E::InvalidCertificate(C::Expired) | E::InvalidCertificate(C::ExpiredContext { .. }) => {
                format!("TLS: the server's certificate{subject} has expired")
            }
            E::InvalidCertificate(C::NotValidYet)
            | E::InvalidCertificate(C::NotValidYetContext { .. }) => {
                format!("TLS: the server's certificate{subject} is not valid yet")
            }
            E::InvalidCertificate(other) => {
                format!("TLS: the server's certificate{subject} was rejected: {other:?}")
            }
            E::AlertReceived(A::CertificateRequired | A::HandshakeFailure)
                if self.settings.cert.is_none() =>
            {
                "TLS: the server requires a client certificate and none was given \
                 (--tlscert and --tlskey, or cert.pem and key.pem in DOCKER_CERT_PATH or ~/.docker)"
                    .to_string()
            }
            E::AlertReceived(
                a @ (A::BadCertificate
                | A::UnknownCA
                | A::CertificateRequired
                | A::CertificateExpired
                | A::CertificateUnknown
                | A::HandshakeFailure),
            ) => format!(
                "TLS: the server refused our client certificate {} (alert {a:?})",
                self.settings
                    .cert
                    .as_deref()
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            E::InvalidMessage(_) => {
                "TLS: the server did not answer with TLS (a plain tcp:// endpoint? drop --tls/--tlsverify)"
                    .to_string()
            }
            other => format!("TLS handshake failed: {other}"),
        })
    }
}

/// The host part of `host:port` (without an IPv6 literal's brackets).
fn host_of(hostport: &str) -> &str {
    let host = hostport.rsplit_once(':').map_or(hostport, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

fn read_certs(
    what: &'static str,
    path: &Path,
) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let err = |error: String| TlsConfigError::File {
        what,
        path: path.display().to_string(),
        error,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| err(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| err(e.to_string()))?;
    if certs.is_empty() {
        return Err(err("no PEM certificate in the file".into()));
    }
    Ok(certs)
}

/// Checks the server as asked (WebPKI against the CA, or not at all for
/// `--tls`) and records the subject of the certificate it presented.
#[derive(Debug)]
struct Recorder {
    inner: Option<Arc<rustls::client::WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    seen: Arc<Mutex<Option<String>>>,
}

impl danger::ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<danger::ServerCertVerified, rustls::Error> {
        if let (Ok(mut seen), Some(s)) = (self.seen.lock(), subject::of(end_entity)) {
            *seen = Some(s);
        }
        match &self.inner {
            Some(v) => {
                v.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
            }
            None => Ok(danger::ServerCertVerified::assertion()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
