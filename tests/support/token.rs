//! A small token server for the distribution spec's bearer-token flow, as
//! `docker-registry` with `auth: token:` expects one: it answers
//! `GET /token?service=..&scope=..` for one user (basic auth) with a JWT
//! signed (ES256) by a throwaway key, whose self-signed certificate is both
//! the token's `x5c` header and the registry's `rootcertbundle`. Wrong or
//! missing credentials get a 401 with a registry-style error body.
//!
//! Plain HTTP on 127.0.0.1, one thread per connection; stopped on drop.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use base64::Engine as _;
use rcgen::{CertificateParams, DnType, KeyPair};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};

/// The `issuer` the registry is configured to trust.
pub const ISSUER: &str = "shipshape-test-issuer";
/// The `service` (the token's audience).
pub const SERVICE: &str = "shipshape-test-registry";
/// What a refused token request answers (dockerd repeats the message).
pub const REFUSED_MESSAGE: &str = "invalid username or password";

/// A running token server; stopped on drop.
pub struct TokenServer {
    /// `http://127.0.0.1:PORT/token`, the registry's `realm`.
    pub realm: String,
    /// The signing certificate (PEM): the registry's `rootcertbundle`.
    pub cert: PathBuf,
    /// How many tokens were issued (to show the flow was really used).
    pub issued: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    addr: String,
}

struct Signer {
    key: EcdsaKeyPair,
    cert_der: Vec<u8>,
    rng: ring::rand::SystemRandom,
}

fn b64url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

impl Signer {
    fn new(dir: &Path) -> (Signer, PathBuf) {
        let kp = KeyPair::generate().expect("token signing key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("params");
        p.distinguished_name
            .push(DnType::CommonName, "shipshape token signer");
        let cert = p.self_signed(&kp).expect("token signing cert");
        let path = dir.join("token-signer.crt");
        std::fs::write(&path, cert.pem()).expect("writing the token cert");
        let rng = ring::rand::SystemRandom::new();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &kp.serialize_der(), &rng)
                .expect("ring key from rcgen's PKCS#8");
        (
            Signer {
                key,
                cert_der: cert.der().to_vec(),
                rng,
            },
            path,
        )
    }

    /// A JWT granting `scopes` (`repository:NAME:ACTIONS`) to `user`.
    fn token(&self, user: &str, scopes: &[String]) -> String {
        let access: Vec<serde_json::Value> = scopes
            .iter()
            .filter_map(|s| {
                let mut parts = s.splitn(3, ':');
                let (t, n, a) = (parts.next()?, parts.next()?, parts.next()?);
                Some(serde_json::json!({"type": t, "name": n, "actions": a.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let header = serde_json::json!({
            "alg": "ES256", "typ": "JWT",
            "x5c": [base64::engine::general_purpose::STANDARD.encode(&self.cert_der)],
        });
        let claims = serde_json::json!({
            "iss": ISSUER, "sub": user, "aud": SERVICE,
            "exp": now + 600, "nbf": now - 60, "iat": now,
            "jti": format!("{now}-{}", scopes.join(" ")),
            "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(header.to_string().as_bytes()),
            b64url(claims.to_string().as_bytes())
        );
        let sig = self
            .key
            .sign(&self.rng, signing_input.as_bytes())
            .expect("signing the token");
        format!("{signing_input}.{}", b64url(sig.as_ref()))
    }
}

/// `a=1&b=2` decoded (percent escapes and `+`), repeated keys kept.
fn query_pairs(q: &str) -> Vec<(String, String)> {
    fn dec(s: &str) -> String {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < b.len() => {
                    match std::str::from_utf8(&b[i + 1..i + 3])
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                    {
                        Some(v) => {
                            out.push(v);
                            i += 2;
                        }
                        None => out.push(b'%'),
                    }
                }
                c => out.push(c),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).to_string()
    }
    q.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (dec(k), dec(v))
        })
        .collect()
}

impl TokenServer {
    /// Starts a token server for `user`/`password`, writing its certificate into `dir`.
    pub fn start(dir: &Path, user: &str, password: &str) -> TokenServer {
        let (signer, cert) = Signer::new(dir);
        let listener = TcpListener::bind("127.0.0.1:0").expect("token server bind");
        let addr = listener.local_addr().expect("addr").to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicUsize::new(0));
        let want = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let (signer, stop2, issued2) = (Arc::new(signer), stop.clone(), issued.clone());
        let user = user.to_string();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(s) = conn else { continue };
                let (signer, issued, want, user) =
                    (signer.clone(), issued2.clone(), want.clone(), user.clone());
                std::thread::spawn(move || serve(s, &signer, &issued, &want, &user));
            }
        });
        TokenServer {
            realm: format!("http://{addr}/token"),
            cert,
            issued,
            stop,
            addr,
        }
    }
}

fn serve(mut s: TcpStream, signer: &Signer, issued: &AtomicUsize, want: &str, user: &str) {
    let Ok(clone) = s.try_clone() else { return };
    let mut r = BufReader::new(clone);
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let mut authorization = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.trim().eq_ignore_ascii_case("authorization") {
                authorization = v.trim().to_string();
            }
        }
    }
    let path = line.split_whitespace().nth(1).unwrap_or("");
    let (route, query) = path.split_once('?').unwrap_or((path, ""));
    let (status, body) = if route != "/token" {
        ("404 Not Found", "404 page not found".to_string())
    } else if authorization != want {
        (
            "401 Unauthorized",
            serde_json::json!({"errors": [{"code": "UNAUTHORIZED", "message": REFUSED_MESSAGE}]})
                .to_string(),
        )
    } else {
        let scopes: Vec<String> = query_pairs(query)
            .into_iter()
            .filter(|(k, _)| k == "scope")
            .flat_map(|(_, v)| v.split(' ').map(str::to_string).collect::<Vec<_>>())
            .filter(|s| !s.is_empty())
            .collect();
        let t = signer.token(user, &scopes);
        issued.fetch_add(1, Ordering::SeqCst);
        (
            "200 OK",
            serde_json::json!({"token": t, "access_token": t, "expires_in": 600}).to_string(),
        )
    };
    let _ = write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}
