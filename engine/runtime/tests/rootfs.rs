//! overlay rootfs mount/unmount against the real kernel (needs root).

mod common;

use std::fs;

use shipshape_runtime::{mount_rootfs, rootfs_kind, unmount_rootfs, RootfsKind};

#[test]
fn overlay_mount_captures_writes_in_upper() {
    if !common::is_root() {
        eprintln!("skipping: needs root");
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let low = tmp.path().join("layer1");
    let high = tmp.path().join("layer2");
    fs::create_dir_all(&low).unwrap();
    fs::create_dir_all(&high).unwrap();
    fs::write(low.join("a"), "low").unwrap();
    fs::write(low.join("only-low"), "low").unwrap();
    fs::write(high.join("a"), "high").unwrap();
    let dir = tmp.path().join("container");

    let merged = mount_rootfs(&[low.clone(), high.clone()], &dir).unwrap();
    assert_eq!(merged, dir.join("merged"));
    assert_eq!(rootfs_kind(&dir), RootfsKind::Overlay);
    assert_eq!(
        fs::read_to_string(merged.join("a")).unwrap(),
        "high",
        "top-most layer wins"
    );
    assert_eq!(fs::read_to_string(merged.join("only-low")).unwrap(), "low");

    fs::write(merged.join("new"), "n").unwrap();
    fs::write(merged.join("only-low"), "changed").unwrap();
    fs::remove_file(merged.join("a")).unwrap();

    // Idempotent.
    assert_eq!(
        mount_rootfs(&[low.clone(), high.clone()], &dir).unwrap(),
        merged
    );

    assert_eq!(fs::read_to_string(dir.join("upper/new")).unwrap(), "n");
    assert_eq!(
        fs::read_to_string(dir.join("upper/only-low")).unwrap(),
        "changed"
    );
    assert_eq!(fs::read_to_string(low.join("only-low")).unwrap(), "low");
    assert_eq!(fs::read_to_string(high.join("a")).unwrap(), "high");
    assert!(!low.join("new").exists() && !high.join("new").exists());

    unmount_rootfs(&dir).unwrap();
    assert_eq!(fs::read_dir(&merged).unwrap().count(), 0);
    unmount_rootfs(&dir).unwrap(); // not mounted -> Ok

    // Remount (daemon restart): changes are still there.
    let merged = mount_rootfs(&[low, high], &dir).unwrap();
    assert_eq!(fs::read_to_string(merged.join("new")).unwrap(), "n");
    assert!(!merged.join("a").exists());
    unmount_rootfs(&dir).unwrap();
}

#[test]
fn empty_image_mounts() {
    if !common::is_root() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("c");
    let merged = mount_rootfs(&[], &dir).unwrap();
    assert_eq!(rootfs_kind(&dir), RootfsKind::Overlay);
    fs::write(merged.join("x"), "1").unwrap();
    assert!(dir.join("upper/x").exists());
    unmount_rootfs(&dir).unwrap();
}
