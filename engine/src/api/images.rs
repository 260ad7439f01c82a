//! Images API group: load, list, inspect, tag, remove, save.
//! STUB: the store developer fills this in.

use super::{Ctx, Request, Response};
use crate::error::ApiError;

fn todo_() -> Result<Response, ApiError> {
    Err(ApiError::NotImplemented("not implemented yet".into()))
}
pub async fn list(_ctx: &Ctx) -> Result<Response, ApiError> { todo_() }
pub async fn load(_ctx: &Ctx, _req: Request) -> Result<Response, ApiError> { todo_() }
pub async fn save(_ctx: &Ctx, _names: Vec<String>) -> Result<Response, ApiError> { todo_() }
pub async fn inspect(_ctx: &Ctx, _name: &str) -> Result<Response, ApiError> { todo_() }
pub async fn tag(_ctx: &Ctx, _name: &str) -> Result<Response, ApiError> { todo_() }
pub async fn remove(_ctx: &Ctx, _name: &str) -> Result<Response, ApiError> { todo_() }
