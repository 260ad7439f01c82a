//! Throwaway PKI for the TLS tests: a CA, and server and client
//! certificates it signs (or that are deliberately wrong: another name, an
//! expired validity), written as PEM files into a temp directory.

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use std::path::{Path, PathBuf};

/// A certificate authority that lives for one test.
pub struct Ca {
    cert: Certificate,
    key: KeyPair,
}

/// How a leaf certificate should be made.
pub struct Leaf<'a> {
    /// Subject alternative names (DNS names or IP addresses).
    pub names: &'a [&'a str],
    pub common_name: &'a str,
    pub server: bool,
    /// Valid only in 2020: expired today.
    pub expired: bool,
}

impl Ca {
    pub fn new(common_name: &str) -> Ca {
        let key = KeyPair::generate().expect("CA key");
        let mut p = CertificateParams::new(Vec::<String>::new()).expect("CA params");
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.distinguished_name.push(DnType::CommonName, common_name);
        p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        let cert = p.self_signed(&key).expect("CA cert");
        Ca { cert, key }
    }

    /// Writes the CA certificate to `path`.
    pub fn write(&self, path: &Path) -> PathBuf {
        std::fs::write(path, self.cert.pem()).expect("writing the CA");
        path.to_path_buf()
    }

    /// Signs a leaf and writes `<stem>-cert.pem` and `<stem>-key.pem` into
    /// `dir`; returns (cert, key) paths.
    pub fn leaf(&self, dir: &Path, stem: &str, l: &Leaf<'_>) -> (PathBuf, PathBuf) {
        let key = KeyPair::generate().expect("key");
        let names: Vec<String> = l.names.iter().map(|s| s.to_string()).collect();
        let mut p = CertificateParams::new(names).expect("params");
        p.distinguished_name.push(DnType::CommonName, l.common_name);
        p.extended_key_usages = vec![if l.server {
            ExtendedKeyUsagePurpose::ServerAuth
        } else {
            ExtendedKeyUsagePurpose::ClientAuth
        }];
        if l.expired {
            p.not_before = rcgen::date_time_ymd(2020, 1, 1);
            p.not_after = rcgen::date_time_ymd(2020, 12, 31);
        }
        let cert = p.signed_by(&key, &self.cert, &self.key).expect("signing");
        let (c, k) = (
            dir.join(format!("{stem}-cert.pem")),
            dir.join(format!("{stem}-key.pem")),
        );
        std::fs::write(&c, cert.pem()).expect("writing a cert");
        std::fs::write(&k, key.serialize_pem()).expect("writing a key");
        (c, k)
    }
}
