//! People's verdicts coming back in: recording one, escalating a crisis, relearning.
//!
//! The web pages (mail links and `/review`) and `veille judge` all record through
//! [`record`], so a verdict means the same wherever it is given: it is stored for the
//! mention and its story (see `crate::store`), and a crisis verdict mails the crisis rules
//! of the watch at once, once per story (`crate::alerting::escalate`). What a verdict *is*
//! lives in `crate::model` and `crate::judge`; this module only runs it against the store
//! and the outbox.
//!
//! The per-watch classifiers (`crate::judge::learned`) are retrained by [`refresh_models`]
//! before each poll pass when the judgments changed, whoever gave them: `veille judge` runs
//! in another process, so the daemon compares the store's judgments version rather than
//! being told.

use std::sync::Arc;

use crate::app::{App, AppError};
use crate::judge::learned::{self, Models};
use crate::model::{MentionId, Verdict, WatchId};
use crate::score::learn::Model;
use crate::store::{Store, StoreError};

/// A verdict someone gives, before it is recorded.
#[derive(Debug, Clone)]
pub struct Given {
    pub mention: MentionId,
    pub verdict: Verdict,
    pub note: Option<String>,
    pub who: String,
    /// "mail", "review" or "cli".
    pub via: &'static str,
}

/// What recording a verdict did.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The mentions judged (the story's, of the same watch), the previous verdict, and the
    /// verdict as stored on the mention asked.
    pub judged: crate::store::Judged,
    /// What a crisis verdict did about mail (None for other verdicts).
    pub escalation: Option<crate::alert::Escalation>,
}

impl Recorded {
    /// Outbox ids of the crisis mails queued (empty unless a crisis verdict mailed).
    pub fn escalated(&self) -> &[i64] {
        self.escalation
            .as_ref()
            .map_or(&[], crate::alert::Escalation::queued)
    }
}

/// Records a verdict on a mention and its story (the same watch's copies), and escalates a
/// crisis verdict to the crisis alert rule at once, once per story (see
/// `crate::alert::may_escalate`: a crisis confirmed again, or a crisis link replayed, is
/// recorded and mails nobody). None when the mention does not exist.
/// The web pages and `veille judge` both come here, so a verdict means the same wherever
/// it is given.
pub async fn record(app: &App, given: Given) -> Result<Option<Recorded>, AppError> {
    let at = app.clock.now();
    let (mention, verdict) = (given.mention, given.verdict);
    let stored = {
        let given = given.clone();
        app.db(move |s| {
            s.judge(&crate::store::NewJudgment {
                mention: given.mention,
                verdict: given.verdict,
                note: given.note.as_deref(),
                who: &given.who,
                via: given.via,
                at,
                whole_story: true,
            })
        })
        .await?
    };
    let Some(judged) = stored else {
        return Ok(None);
    };
    tracing::info!(mention = mention.0, verdict = %verdict, via = given.via, who = %given.who, mentions = judged.mentions.len(), "verdict recorded");
    // Whether it mails is the story's escalation history's call, not the previous verdict's:
    // crisis, relevant, crisis again must not page anyone twice.
    let escalation = if verdict == Verdict::Crisis {
        Some(crate::alerting::escalate(app, mention, &judged.judgment).await?)
    } else {
        None
    };
    Ok(Some(Recorded { judged, escalation }))
}

/// Retrains the watches' models when judgments changed since the last training. Returns
/// whether it trained.
pub async fn refresh_models(app: &App) -> Result<bool, AppError> {
    let watches: Vec<WatchId> = app.config.watches.iter().map(|w| w.id.clone()).collect();
    let version = app.db(|s| s.judgments_version()).await?;
    if app.learned.is_current(version, &watches) {
        return Ok(false);
    }
    let ids = watches.clone();
    let models = app
        .db(move |s| {
            let mut models = Models::new();
            for watch in &ids {
                if let Some(model) = train(s, watch)? {
                    models.insert(watch.clone(), Arc::new(model));
                }
            }
            Ok(models)
        })
        .await?;
    for (watch, model) in &models {
        tracing::info!(watch = %watch, judgments = model.judgments(), features = model.features(), "learned from judgments");
    }
    app.learned.replace(version, watches, models);
    Ok(true)
}

/// A watch's model from its judged mentions, None when there are too few.
pub fn train(store: &Store, watch: &WatchId) -> Result<Option<Model>, StoreError> {
    let judged = store.judged_mentions(watch)?;
    Ok(Model::train(&learned::examples(&judged)))
}
