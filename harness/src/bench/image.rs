//! Images the benchmark loads: the harness's fixture (for containers), and a
//! fixture with an extra 50 MB layer of incompressible bytes (for load).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::fixture;

fn sha256_hex(b: &[u8]) -> String {
    hex::encode(Sha256::digest(b))
}

fn header(path: &str, mode: u32, size: u64, kind: tar::EntryType) -> std::io::Result<tar::Header> {
    let mut h = tar::Header::new_ustar();
    h.set_path(path)?;
    h.set_mode(mode);
    h.set_size(size);
    h.set_entry_type(kind);
    h.set_mtime(1_704_067_200);
    h.set_cksum();
    Ok(h)
}

/// `size` bytes that do not compress (xorshift), different for every `seed`,
/// so each run's image is new to the endpoint and a load does real work.
fn noise(size: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(size);
    while out.len() < size {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(size);
    out
}

/// A docker-archive: the fixture layer plus one layer holding `/blob` of
/// `size` bytes. Returns (tarball, image ID).
pub fn big_image(size: usize, seed: u64) -> Result<(Vec<u8>, String), String> {
    let e = |e: &dyn std::fmt::Display| e.to_string();
    let base = fixture::layer_tar().map_err(|x| e(&x))?;
    let data = noise(size, seed);
    let mut lb = tar::Builder::new(Vec::new());
    let h = header("blob", 0o644, data.len() as u64, tar::EntryType::Regular).map_err(|x| e(&x))?;
    lb.append(&h, &data[..]).map_err(|x| e(&x))?;
    let big = lb.into_inner().map_err(|x| e(&x))?;
    let (base_hex, big_hex) = (sha256_hex(&base), sha256_hex(&big));
    let mut config: Value = serde_json::from_slice(
        &fixture::config_json(&format!("sha256:{base_hex}")).map_err(|x| e(&x))?,
    )
    .map_err(|x| e(&x))?;
    config["rootfs"]["diff_ids"] =
        json!([format!("sha256:{base_hex}"), format!("sha256:{big_hex}")]);
    if let Some(h) = config["history"].as_array_mut() {
        h.push(json!({"created": "2024-01-01T00:00:00Z", "created_by": "shipshape bench: 50 MB of noise"}));
    }
    let config = serde_json::to_vec(&config).map_err(|x| e(&x))?;
    let config_hex = sha256_hex(&config);
    let manifest = serde_json::to_vec(&json!([{
        "Config": format!("{config_hex}.json"),
        "RepoTags": [],
        "Layers": [format!("{base_hex}/layer.tar"), format!("{big_hex}/layer.tar")],
    }]))
    .map_err(|x| e(&x))?;
    let mut b = tar::Builder::new(Vec::new());
    for (name, bytes) in [
        (format!("{base_hex}/layer.tar"), &base),
        (format!("{big_hex}/layer.tar"), &big),
        (format!("{config_hex}.json"), &config),
        ("manifest.json".to_string(), &manifest),
    ] {
        let h =
            header(&name, 0o644, bytes.len() as u64, tar::EntryType::Regular).map_err(|x| e(&x))?;
        b.append(&h, &bytes[..]).map_err(|x| e(&x))?;
    }
    Ok((
        b.into_inner().map_err(|x| e(&x))?,
        format!("sha256:{config_hex}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_image_is_a_valid_archive_with_a_fresh_id() {
        let (tar_a, id_a) = big_image(1 << 16, 1).unwrap();
        let (_, id_b) = big_image(1 << 16, 2).unwrap();
        assert_ne!(id_a, id_b);
        let names: Vec<String> = tar::Archive::new(&tar_a[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().display().to_string())
            .collect();
        assert!(names.contains(&"manifest.json".to_string()));
        assert_eq!(names.len(), 4);
    }
}
