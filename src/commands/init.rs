//! `adlake init`: creates the lake and the database, and applies the migrations.

use super::{check_db_path, open_db, open_lake, Context};
use crate::{AppError, Outcome};

pub async fn run(ctx: &Context) -> Result<Outcome, AppError> {
    check_db_path(&ctx.settings)?;
    let lake = open_lake(&ctx.settings).await?;
    let conn = open_db(&ctx.settings).await?;
    drop(conn);
    if ctx.global.json {
        crate::output::print_json(
            &serde_json::json!({"lake": lake.display(), "db": ctx.settings.db}),
        )?;
    } else {
        crate::output::print(&format!(
            "lake: {}\ndatabase: {}\n",
            lake.display(),
            ctx.settings.db.display()
        ))?;
    }
    Ok(Outcome::Clean)
}
