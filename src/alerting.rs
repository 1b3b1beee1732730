//! Instant alerts, run: the rules' decisions (`crate::alert`) taken against the store and
//! the outbox, from a source run's new mentions to queued mails.
//!
//! # How a mention becomes a mail
//! 1. **Intake** (after each source run, [`after_run`]). Every *live* mention (not found by a
//!    backfill, see `store::Backfill`) of a watch the rule reads is scored with the rule's risk
//!    vocabulary. A story the rule mailed about before, or a mention under `min_score`, is
//!    *folded*: counted for the next mail ("+12 new mentions since the last alert"), never a
//!    mail of its own; so one story alerts once, and its later copies only update its count.
//!    A passing new story waits in the rule's queue with its best mention.
//! 2. **Flush** ([`flush_due`], right after the intake, and from the daemon's loop). A rule
//!    with waiting stories mails when its `throttle` window since its last mail is over and
//!    it is not in its quiet hours (unless the best waiting story scores at least the quiet
//!    hours' `unless_score`). The mail's headline is the best waiting story; the other
//!    waiting stories come under it, then the stories mailed before that gained outlets
//!    since ("now in 4 outlets (+3)"), then the folded count. Queuing the mail, marking its
//!    stories alerted and restarting the folded count is one transaction.
//! 3. **Spikes** (in the intake, per watch that got live mentions; see `crate::alert::spike`). A spike
//!    mails when it starts, once per episode, whatever the throttle (a spike is the news);
//!    it names the top stories driving it (they count as alerted from then on) and
//!    continues the mail thread of the first of them that was alerted before. Like any
//!    alert mail, it restarts the rule's throttle window. Quiet hours hold spikes too: a spike still going on when they
//!    end mails with the next mention.
//!
//! The mail leaves through the outbox like every mail: the daemon's sender is woken as soon
//! as it is queued, so it leaves within the poll's own second (see the latency test in
//! `tests/it/alerts.rs`).
//!
//! Threads: every story shown for the first time starts its thread with that mail
//! (`Message-ID`); a later mail about it (a spike it drives) carries `In-Reply-To` the
//! story's last mail and `References` the whole chain, so mail clients show one
//! conversation per story.
//!
//! # Crisis verdicts
//! A crisis verdict ([`escalate`], from a mail link, `/review` or `veille judge`) mails the
//! story to the crisis rules of its watch at once, whatever their throttle and quiet hours.
//! **A story escalates once**: a later crisis verdict on it is recorded (the judgment history
//! keeps it, the classifier learns from it) but mails nobody, *unless* someone judged the
//! story something other than a crisis after the last escalation *and* a new mention of it
//! was found after that judgment (`crate::alert::may_escalate`): a story that was stood down and then
//! came back in the news is news again. Without that rule, a forwarded digest was enough to
//! page the crisis team at will: its crisis and relevant links, posted in turn, each
//! "changed" the verdict to crisis and mailed again, throttle or not. The trade-off: a
//! crisis confirmed a second time by a colleague, or re-declared after a mistaken "relevant"
//! click with nothing new published, mails nobody; the page and `veille judge` say that
//! the crisis managers were alerted before. The last escalation of each (watch, story) is a
//! row in the database (`crisis_escalations`), decided and written in the transaction that
//! queues the mails, so a restart, two processes or two simultaneous clicks change nothing.
//!
//! Decisions are serialized by `App::alert_lock`: two runs that end together cannot both
//! decide that a rule may mail now.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Utc};
use tracing::{debug, info, warn};

use crate::alert::{
    self, Escalation, MAX_ALSO, MAX_UPDATES, Rule, SPIKE_TOP, UPDATE_HORIZON_DAYS, crisis_rules,
    is_quiet, may_escalate, spike, throttle_end,
};
use crate::app::{App, AppError};
use crate::config::{SpikeRule, WebConfig};
use crate::digest::{display_title, snippet_of};
use crate::mail::Mailer;
use crate::mail::alert::{AlertBody, AlertEntry, AlertMail, AlertUpdate, Thread, compose_alert};
use crate::model::{
    Intake, Judgment, Lang, MentionId, MentionRecord, Reason, StoryId, StoryInfo, WatchId,
};
use crate::score;
use crate::store::{AlertSent, NewEscalation, NewMention};

/// Takes in a run's new mentions, checks spikes, and mails what is due. Each mention carries
/// the risk terms each rule's vocabulary found near its hits (`NewMention::rule_risk`,
/// indexed like `Rules::rules`). Returns the number of mails queued.
pub async fn after_run(app: &App, mentions: Vec<NewMention>) -> Result<usize, AppError> {
    let live: Vec<MentionId> = mentions
        .iter()
        .filter(|m| !m.backfill)
        .map(|m| m.id)
        .collect();
    if live.is_empty() {
        return Ok(0);
    }
    if app.alerting.is_empty() {
        app.db(move |s| s.mentions_taken_in(&live)).await?;
        return Ok(0);
    }
    let live_mentions: Vec<&NewMention> = mentions.iter().filter(|m| !m.backfill).collect();
    take_in(
        app,
        &live_mentions,
        |m| &m.watch,
        |index, rule, m| {
            let risk = m.rule_risk.get(index).cloned().flatten();
            alert::intake(
                rule,
                m.id,
                m.story,
                m.signals.clone().unwrap_or_default(),
                risk,
            )
        },
        live,
    )
    .await
}

/// Takes in the live mentions a crash left between their storing and their intake (call
/// it when no poll is in flight: at start). They are judged by their stored score, which
/// uses the built-in vocabulary and every rule's added terms. Returns the mails queued.
pub async fn recover(app: &App) -> Result<usize, AppError> {
    let awaiting = app.db(|s| s.mentions_awaiting_alerts()).await?;
    if awaiting.is_empty() {
        return Ok(0);
    }
    warn!(
        mentions = awaiting.len(),
        "taking in mentions stored before a crash but not yet looked at by the alert rules"
    );
    let ids: Vec<MentionId> = awaiting.iter().map(|m| m.mention).collect();
    take_in(
        app,
        &awaiting,
        |m| &m.watch,
        |_, rule, m| Intake {
            mention: m.mention,
            story: m.story,
            score: m.score,
            reasons: m.reasons.clone(),
            passes: m.score >= rule.config.min_score,
        },
        ids,
    )
    .await
}

/// The intake of some live mentions by every rule, then their watches' spike checks and
/// the mails now due; `taken` are marked taken in at the end. Returns the mails queued.
async fn take_in<M: Sync>(
    app: &App,
    mentions: &[M],
    watch_of: impl Fn(&M) -> &WatchId + Sync,
    intake_of: impl Fn(usize, &Rule, &M) -> Intake + Sync,
    taken: Vec<MentionId>,
) -> Result<usize, AppError> {
    let _decide = app.alert_lock.lock().await;
    let now = app.clock.now();
    let mut queued = 0;
    for (index, rule) in app.alerting.rules.iter().enumerate() {
        let covered: Vec<&M> = mentions
            .iter()
            .filter(|m| rule.covers(watch_of(m)))
            .collect();
        if covered.is_empty() {
            continue;
        }
        let intake: Vec<Intake> = covered.iter().map(|m| intake_of(index, rule, m)).collect();
        let passing = intake.iter().filter(|i| i.passes).count();
        debug!(rule = %rule.config.id, mentions = intake.len(), passing, "alert intake");
        let id = rule.config.id.clone();
        app.db(move |s| s.alert_intake(&id, now, &intake)).await?;
        if let Some(spike_rule) = rule.config.spike {
            let watches: BTreeSet<&WatchId> = covered.iter().map(|m| watch_of(m)).collect();
            for watch in watches {
                queued += check_spike(app, rule, watch, &spike_rule, now).await?;
            }
        }
    }
    queued += flush_locked(app, now).await?;
    app.db(move |s| s.mentions_taken_in(&taken)).await?;
    if queued > 0 {
        app.mail_queued.notify_one();
    }
    Ok(queued)
}

/// Mails every rule whose waiting stories are due (throttle over, outside quiet hours).
/// Returns the number of mails queued.
pub async fn flush_due(app: &App) -> Result<usize, AppError> {
    if app.alerting.is_empty() {
        return Ok(0);
    }
    let _decide = app.alert_lock.lock().await;
    let queued = flush_locked(app, app.clock.now()).await?;
    if queued > 0 {
        app.mail_queued.notify_one();
    }
    Ok(queued)
}

/// When the next throttled rule may mail (None when no story waits).
pub async fn next_flush(app: &App) -> Result<Option<DateTime<Utc>>, AppError> {
    if app.alerting.is_empty() {
        return Ok(None);
    }
    let waiting = app.db(|s| s.rules_waiting()).await?;
    let now = app.clock.now();
    Ok(waiting
        .iter()
        .filter_map(|(id, last)| {
            let rule = app.alerting.rules.iter().find(|r| &r.config.id == id)?;
            Some(throttle_end(rule.config.throttle, *last).unwrap_or(now))
        })
        .min())
}

async fn flush_locked(app: &App, now: DateTime<Utc>) -> Result<usize, AppError> {
    // One cheap question first: the daemon asks after every finished run.
    let waiting = app.db(|s| s.rules_waiting()).await?;
    let mut queued = 0;
    for rule in &app.alerting.rules {
        if !waiting.iter().any(|(id, _)| id == &rule.config.id) {
            continue;
        }
        let id = rule.config.id.clone();
        let state = app.db(move |s| s.alert_rule_state(&id)).await?;
        let Some(best) = state.pending.first() else {
            continue;
        };
        if throttle_end(rule.config.throttle, state.last_mail_at).is_some_and(|end| now < end) {
            continue;
        }
        if let Some(quiet) = &rule.config.quiet_hours
            && is_quiet(quiet, now)
            && quiet.unless_score.is_none_or(|bar| best.score < bar)
        {
            continue;
        }
        queued += mail_stories(app, rule, state, now).await?;
    }
    Ok(queued)
}

/// Everything a mail shows of some stories, read in one database call.
struct Shown {
    records: HashMap<MentionId, MentionRecord>,
    stories: HashMap<StoryId, StoryInfo>,
}

async fn read_shown(app: &App, mentions: Vec<MentionId>) -> Result<Shown, AppError> {
    Ok(app
        .db(move |s| {
            let records = s.mentions_by_id(&mentions)?;
            let ids: Vec<StoryId> = records.iter().map(|r| r.story).collect();
            let stories = s.stories_info(&ids)?;
            Ok(Shown {
                records: records.into_iter().map(|r| (r.id, r)).collect(),
                stories,
            })
        })
        .await?)
}

fn watch_name(app: &App, watch: &WatchId) -> String {
    app.config
        .watches
        .iter()
        .find(|w| &w.id == watch)
        .map_or_else(|| watch.to_string(), |w| w.name.clone())
}

/// One story as a mail shows it, from its mention and the story it belongs to.
fn entry(
    app: &App,
    record: &MentionRecord,
    info: Option<&StoryInfo>,
    reasons: &[Reason],
    lang: Lang,
) -> AlertEntry {
    AlertEntry {
        story: record.story,
        mention: record.id,
        watch_name: watch_name(app, &record.watch),
        title: display_title(&record.title, &record.text),
        url: record.url.clone(),
        source: record.source.clone(),
        outlet: record.outlet.clone(),
        author: record.author.clone(),
        time: record.published.unwrap_or(record.found_at),
        outlets: info.map_or_else(
            || record.outlet.iter().cloned().collect(),
            |i| i.outlets.clone(),
        ),
        copies: info.map_or(1, |i| i.items),
        reasons_line: score::reasons_line(reasons, lang),
        snippet: snippet_of(&app.matcher, &record.watch, &record.text),
        links: crate::judge::mail_links(
            app.config.web.as_ref().and_then(WebConfig::link_base),
            record.id,
            app.clock.now(),
        ),
    }
}

/// Stories the rule mailed about that have more outlets now than the last mail showed.
async fn grown_stories(
    app: &App,
    rule: &Rule,
    now: DateTime<Utc>,
    shown_now: &[StoryId],
) -> Result<Vec<AlertUpdate>, AppError> {
    let id = rule.config.id.clone();
    let since = now - chrono::Duration::days(UPDATE_HORIZON_DAYS);
    let exclude = shown_now.to_vec();
    let watches = rule.config.watches.clone();
    let grown = app
        .db(move |s| {
            let alerted = s.alerted_stories(&id, since)?;
            let ids: Vec<StoryId> = alerted
                .iter()
                .map(|a| a.story)
                .filter(|s| !exclude.contains(s))
                .collect();
            let infos = s.stories_info(&ids)?;
            let mut grown = Vec::new();
            for story in alerted {
                if let Some(info) = infos.get(&story.story)
                    && info.outlets.len() > story.outlets
                {
                    grown.push((story.outlets, info.clone()));
                }
            }
            grown.truncate(MAX_UPDATES);
            // The story's latest mention of a watch this rule reads stands for it.
            let mut out = Vec::new();
            for (previous, info) in grown {
                if let Some(record) = s.latest_mention_of_story(info.id, &watches)? {
                    out.push((previous, info, record));
                }
            }
            Ok(out)
        })
        .await?;
    Ok(grown
        .into_iter()
        .map(|(previous, info, record)| AlertUpdate {
            entry: entry(app, &record, Some(&info), &record.reasons, rule.config.lang),
            previous_outlets: previous,
        })
        .collect())
}

/// Queues the mail of a rule's waiting stories.
async fn mail_stories(
    app: &App,
    rule: &Rule,
    state: crate::store::RuleState,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let lang = rule.config.lang;
    let shown_count = state.pending.len().min(MAX_ALSO + 1);
    let mentions: Vec<MentionId> = state.pending[..shown_count]
        .iter()
        .map(|p| p.mention)
        .collect();
    let shown = read_shown(app, mentions).await?;
    let mut entries = Vec::new();
    for pending in &state.pending[..shown_count] {
        if let Some(record) = shown.records.get(&pending.mention) {
            let info = shown.stories.get(&record.story);
            entries.push(entry(app, record, info, &pending.reasons, lang));
        }
    }
    // Waiting stories beyond what one mail shows are settled too, as folded mentions.
    let unshown: Vec<StoryId> = state.pending[shown_count..]
        .iter()
        .map(|p| p.story)
        .collect();
    let settled: Vec<StoryId> = state.pending.iter().map(|p| p.story).collect();
    let updates = grown_stories(app, rule, now, &settled).await?;
    let mut entries = entries.into_iter();
    let Some(headline) = entries.next() else {
        warn!(rule = %rule.config.id, "the stories waiting for an alert are gone (purged?); dropping them");
        let dropped = Outcome {
            mail: None,
            new_stories: settled_with_outlets(&settled, &shown),
            updates: Vec::new(),
            continues: None,
            spike: None,
        };
        return record(app, rule, now, dropped).await;
    };
    let also: Vec<AlertEntry> = entries.collect();
    let key = format!("alert:{}:story:{}", rule.config.id, headline.story.0);
    let headline_story = headline.story;
    let title = headline.title.clone();
    let update_counts: Vec<(StoryId, usize)> = updates
        .iter()
        .map(|u| (u.entry.story, u.entry.outlets.len()))
        .collect();
    let body = AlertBody::Stories {
        headline,
        also,
        updates,
        folded_mentions: usize::try_from(state.folded).unwrap_or(usize::MAX) + unshown.len(),
    };
    let mail = AlertMail {
        key,
        rule: rule.config.id.clone(),
        lang,
        timezone: app.config.daemon.timezone,
        body,
        thread: None,
    };
    let outcome = Outcome {
        mail: Some(mail),
        new_stories: settled_with_outlets(&settled, &shown),
        updates: update_counts,
        continues: None,
        spike: None,
    };
    let queued = record(app, rule, now, outcome).await?;
    info!(rule = %rule.config.id, story = headline_story.0, title = %title, waiting = settled.len(), folded = state.folded, "alert queued");
    Ok(queued)
}

fn settled_with_outlets(stories: &[StoryId], shown: &Shown) -> Vec<(StoryId, usize)> {
    stories
        .iter()
        .map(|s| (*s, shown.stories.get(s).map_or(1, |i| i.outlets.len())))
        .collect()
}

/// What a rule decided to mail (None: nothing left to show; its waiting stories are
/// dropped) and what that mail settles.
struct Outcome {
    mail: Option<AlertMail>,
    /// Stories the mail shows for the first time (they never alert again), with the outlet
    /// count shown.
    new_stories: Vec<(StoryId, usize)>,
    /// Stories shown again as grown, with the outlet count shown now.
    updates: Vec<(StoryId, usize)>,
    /// The story whose thread the mail continues.
    continues: Option<StoryId>,
    /// A spike mail: the watch whose episode starts.
    spike: Option<WatchId>,
}

/// Composes the outcome's mail (when there is one) and records it with what it settles, in
/// one transaction. Returns the number of mails queued (0 or 1).
async fn record(
    app: &App,
    rule: &Rule,
    now: DateTime<Utc>,
    outcome: Outcome,
) -> Result<usize, AppError> {
    let Outcome {
        mail,
        new_stories,
        updates,
        continues,
        spike,
    } = outcome;
    let composed = match &mail {
        Some(mail) => {
            let sender = Mailer::sender(&app.config)?;
            Some(compose_alert(mail, &sender, &rule.config.to, now)?)
        }
        None => None,
    };
    let rule_id = rule.config.id.clone();
    let outbox_id = app
        .db(move |s| match &composed {
            Some(mail) => s.record_alert(&AlertSent {
                rule: &rule_id,
                mail,
                now,
                new_stories,
                updates,
                continues,
                spike: spike.as_ref(),
            }),
            None => s.drop_pending(&rule_id).map(|()| None),
        })
        .await?;
    Ok(usize::from(outbox_id.is_some()))
}

/// Checks one watch for a spike under one rule; mails it when a new episode starts.
async fn check_spike(
    app: &App,
    rule: &Rule,
    watch: &WatchId,
    spike_rule: &SpikeRule,
    now: DateTime<Utc>,
) -> Result<usize, AppError> {
    let (rule_id, watch_id, window) = (rule.config.id.clone(), watch.clone(), spike_rule.window);
    let (counts, in_progress) = app
        .db(move |s| {
            Ok((
                s.watch_hours(&watch_id, now, window, spike::BASELINE_DAYS)?,
                s.spike_in_progress(&rule_id, &watch_id)?,
            ))
        })
        .await?;
    let counts = spike::window_counts(
        counts.end,
        counts.length,
        counts.current,
        counts.history_start,
        &counts.hours,
    );
    let check = spike::check(&counts, spike_rule);
    if !check.is_spike {
        if in_progress {
            let (rule_id, watch_id) = (rule.config.id.clone(), watch.clone());
            app.db(move |s| s.end_spike(&rule_id, &watch_id)).await?;
            debug!(rule = %rule.config.id, watch = %watch, count = check.count, "spike over");
        }
        return Ok(0);
    }
    if in_progress {
        return Ok(0);
    }
    if let Some(quiet) = &rule.config.quiet_hours
        && is_quiet(quiet, now)
    {
        debug!(rule = %rule.config.id, watch = %watch, "spike held: quiet hours");
        return Ok(0);
    }
    let window_chrono = chrono::Duration::from_std(window).unwrap_or(chrono::Duration::hours(1));
    let (rule_id, watch_id) = (rule.config.id.clone(), watch.clone());
    let (top, state, threads) = app
        .db(move |s| {
            let top = s.top_stories(&watch_id, now - window_chrono, now, SPIKE_TOP)?;
            let state = s.alert_rule_state(&rule_id)?;
            let mut threads = HashMap::new();
            for (story, _, _) in &top {
                if let Some(alerted) = s.alerted_story(&rule_id, *story)? {
                    threads.insert(*story, alerted);
                }
            }
            Ok((top, state, threads))
        })
        .await?;
    let shown = read_shown(app, top.iter().map(|(_, m, _)| *m).collect()).await?;
    let lang = rule.config.lang;
    let entries: Vec<AlertEntry> = top
        .iter()
        .filter_map(|(_, mention, _)| shown.records.get(mention))
        .map(|record| {
            let info = shown.stories.get(&record.story);
            entry(app, record, info, &record.reasons, lang)
        })
        .collect();
    let continues = top
        .iter()
        .map(|(story, _, _)| *story)
        .find(|story| threads.contains_key(story));
    let thread = continues
        .and_then(|story| threads.get(&story))
        .map(|alerted| Thread {
            in_reply_to: alerted.last_message_id.clone(),
            references: alerted.references.clone(),
        });
    let new_stories: Vec<(StoryId, usize)> = top
        .iter()
        .map(|(story, _, _)| *story)
        .filter(|story| !threads.contains_key(story))
        .map(|story| {
            (
                story,
                shown.stories.get(&story).map_or(1, |i| i.outlets.len()),
            )
        })
        .collect();
    let usual = check.usual.unwrap_or(spike::BASELINE_FLOOR);
    let mail = AlertMail {
        key: format!(
            "alert:{}:spike:{}:{}",
            rule.config.id,
            watch,
            now.timestamp()
        ),
        rule: rule.config.id.clone(),
        lang,
        timezone: app.config.daemon.timezone,
        body: AlertBody::Spike {
            watch_name: watch_name(app, watch),
            count: check.count,
            usual,
            window_minutes: i64::try_from(window.as_secs() / 60).unwrap_or(60),
            top: entries,
            updates: Vec::new(),
            folded_mentions: usize::try_from(state.folded).unwrap_or(usize::MAX),
        },
        thread,
    };
    let outcome = Outcome {
        mail: Some(mail),
        new_stories,
        updates: Vec::new(),
        continues,
        spike: Some(watch.clone()),
    };
    let queued = record(app, rule, now, outcome).await?;
    info!(rule = %rule.config.id, watch = %watch, count = check.count, usual, "spike alert queued");
    Ok(queued)
}

/// Mails the story of a mention judged a crisis to the crisis rule(s) of its watch at once,
/// whatever their throttle and quiet hours, in the story's mail thread when the rule alerted
/// it before, unless the story was escalated before ([`may_escalate`]). The decision and
/// the mails are one transaction (`Store::record_escalation`), so replayed links and
/// simultaneous clicks mail once. The daemon's sender is woken; a separate process
/// (`veille judge`) delivers itself.
pub async fn escalate(
    app: &App,
    mention: MentionId,
    judgment: &Judgment,
) -> Result<Escalation, AppError> {
    let Some(record) = app.db(move |s| s.mention(mention)).await? else {
        warn!(
            mention = mention.0,
            "a crisis verdict on a mention that is gone: nothing to escalate"
        );
        return Ok(Escalation::NoRule);
    };
    let rules = crisis_rules(&app.config.alerts, &record.watch);
    if rules.is_empty() {
        warn!(mention = mention.0, watch = %record.watch, "a crisis verdict, but no [[alert]] rule reads this watch: nobody to escalate to");
        return Ok(Escalation::NoRule);
    }
    let story = record.story;
    let info = app
        .db(move |s| s.stories_info(&[story]))
        .await?
        .remove(&story);
    let outlets = info.as_ref().map_or(1, |i| i.outlets.len());
    let sender = Mailer::sender(&app.config)?;
    let now = app.clock.now();
    let mut mails = Vec::new();
    for rule in &rules {
        let id = rule.id.clone();
        let alerted = app.db(move |s| s.alerted_story(&id, story)).await?;
        let mail = AlertMail {
            key: format!("alert:{}:crisis:{}:{}", rule.id, story.0, judgment.id),
            rule: rule.id.clone(),
            lang: rule.lang,
            timezone: app.config.daemon.timezone,
            body: AlertBody::Crisis {
                headline: entry(app, &record, info.as_ref(), &record.reasons, rule.lang),
                who: judgment.who.clone(),
                note: judgment.note.clone(),
            },
            thread: alerted.map(|a| Thread {
                in_reply_to: a.last_message_id,
                references: a.references,
            }),
        };
        mails.push((
            rule.id.clone(),
            compose_alert(&mail, &sender, &rule.to, now)?,
        ));
    }
    let (watch, judgment_id) = (record.watch.clone(), judgment.id);
    let queued = app
        .db(move |s| {
            s.record_escalation(
                &NewEscalation {
                    watch: &watch,
                    story,
                    judgment: judgment_id,
                    outlets,
                    now,
                    mails: &mails,
                },
                may_escalate,
            )
        })
        .await?;
    let Some(queued) = queued else {
        info!(story = story.0, mention = mention.0, who = %judgment.who, "crisis verdict recorded; the story was escalated before, so nobody is mailed again");
        return Ok(Escalation::AlreadyEscalated);
    };
    for rule in rules {
        info!(rule = %rule.id, story = story.0, mention = mention.0, who = %judgment.who, "crisis verdict escalated");
    }
    app.mail_queued.notify_one();
    Ok(Escalation::Mailed(queued))
}
