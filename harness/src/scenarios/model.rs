//! `model/lifecycle`: random sequences of container, image and volume
//! operations checked step by step against the reference model
//! (harness/src/model). `--cases` sequences per run; operations the
//! endpoint does not route are not generated and named on the PASS line.

use super::{scenario, Scenario};
use crate::ground::{Ctx, Outcome};
use crate::model::lifecycle::{self, ModelOptions};

pub fn scenarios() -> Vec<Scenario> {
    vec![scenario("model", "lifecycle", true, lifecycle)]
}

fn lifecycle(ctx: &Ctx) -> Outcome {
    lifecycle::run(ctx, &ModelOptions::for_ctx(ctx))
}
