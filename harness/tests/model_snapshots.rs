//! The live dockerd's normalised responses match the committed dockerd
//! snapshots in snapshots/ (insta). A difference means dockerd (or the
//! normalisation) changed: review it with `cargo insta review`, or
//! regenerate with `INSTA_UPDATE=always cargo test -p shipshape-harness
//! --test model_snapshots` on a machine with dockerd 20.10.24.
//!
//! Needs dockerd at unix:///var/run/docker.sock (CI starts it).

use shipshape_harness::client::Client;
use shipshape_harness::ground::Ctx;
use shipshape_harness::scenarios::{self, hygiene, snapshots};

#[test]
fn dockerd_matches_committed_snapshots() {
    let sock = std::path::Path::new("/var/run/docker.sock");
    assert!(
        sock.exists(),
        "this test needs dockerd at unix:///var/run/docker.sock"
    );
    let mut client = Client::from_url("unix:///var/run/docker.sock").expect("client");
    let n = client.negotiate(None).expect("negotiate with dockerd");
    let run = format!("{:08x}", std::process::id().wrapping_mul(2654435761));
    let shared = shipshape_harness::ground::Shared::default();
    let ctx = Ctx::new(&client, &n, run, 1, 1, &shared, 0);
    let load = scenarios::all()
        .into_iter()
        .find(|s| s.full_name() == scenarios::LOAD_FIXTURE)
        .expect("load-fixture scenario");
    assert!((load.run)(&ctx).is_ok(), "loading the fixture failed");
    let got = snapshots::capture(&ctx);
    hygiene::cleanup(&ctx);
    let got = match got {
        Ok(g) => g,
        Err(p) => panic!("capturing the snapshots failed: {p:?}"),
    };
    assert_eq!(got.len(), snapshots::DOCKERD.len());
    for (name, value) in got {
        insta::with_settings!({
            snapshot_path => "../../snapshots",
            prepend_module_to_snapshot => false,
            omit_expression => true,
        }, {
            insta::assert_json_snapshot!(name, value);
        });
    }
}
