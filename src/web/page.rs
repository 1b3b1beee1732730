//! HTML pages: the template environment and the responses built from it.
//!
//! Templates live in `templates/` and are compiled into the binary. Their names end in
//! `.html`, so minijinja escapes every value: mention titles, sources and notes come from
//! feeds and readers, and reach the page as text whatever the template does with them.
//! Pages share `layout.html` (one stylesheet, no inline style or script, so the strict
//! Content-Security-Policy set in `super::security_headers` holds).
//!
//! The words are here too, not in the templates: one [`Words`] table per language
//! (`web.lang`), given to every template as `w`, so each page has one template whatever
//! the language, and a test can check that the two tables have the same entries. The
//! trade-off: a sentence around a value in markup (`Recorded as <strong>…</strong>`) is
//! split into the words before and after it, which a translator has to read together.

use std::sync::OnceLock;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Locale, Utc};
use chrono_tz::Tz;
use minijinja::{Environment, Value};
use serde::Serialize;

use crate::model::Lang;
use crate::model::Verdict;

/// The templates, by name.
const TEMPLATES: [(&str, &str); 6] = [
    ("layout.html", include_str!("templates/layout.html")),
    ("refused.html", include_str!("templates/refused.html")),
    ("confirm.html", include_str!("templates/confirm.html")),
    ("recorded.html", include_str!("templates/recorded.html")),
    ("review.html", include_str!("templates/review.html")),
    ("login.html", include_str!("templates/login.html")),
];

/// The page environment, built once (a broken template is a bug: it shows on the first page
/// and in the unit tests below).
fn environment() -> Result<&'static Environment<'static>, &'static str> {
    static ENV: OnceLock<Result<Environment<'static>, String>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = crate::mail::render::template_environment()?;
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .map_err(|e| format!("{name}: {e}"))?;
        }
        Ok(env)
    })
    .as_ref()
    .map_err(String::as_str)
}

/// Renders `template` with `context`, the `words` (as `w`) and the verdict labels (as
/// `verdicts`), as an HTML response with `status`.
pub fn render(status: StatusCode, template: &str, words: &Words, context: Value) -> Response {
    let context = minijinja::context! {
        w => Value::from(minijinja::value::Serde(words)),
        verdicts => verdicts(words),
        ..context
    };
    let html = environment().map_err(str::to_string).and_then(|env| {
        env.get_template(template)
            .and_then(|t| t.render(context))
            .map_err(|e| e.to_string())
    });
    match html {
        Ok(html) => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            html,
        )
            .into_response(),
        Err(message) => {
            tracing::error!(template, error = %super::OneLine(&message), "cannot render a web page");
            (StatusCode::INTERNAL_SERVER_ERROR, words.render_failed).into_response()
        }
    }
}

/// The verdict labels, by verdict name.
fn verdicts(words: &Words) -> Value {
    minijinja::context! {
        relevant => words.verdict(Verdict::Relevant),
        irrelevant => words.verdict(Verdict::Irrelevant),
        crisis => words.verdict(Verdict::Crisis),
    }
}

/// A refusal in the reader's words: what went wrong, and what to do instead.
pub fn refused(
    status: StatusCode,
    words: &Words,
    heading: &str,
    message: &str,
    hint: Option<&str>,
) -> Response {
    render(
        status,
        "refused.html",
        words,
        minijinja::context! { heading, message, hint },
    )
}

/// A refusal whose words are all fixed.
pub fn refusal(status: StatusCode, words: &Words, refusal: &Refusal) -> Response {
    refused(
        status,
        words,
        refusal.heading,
        refusal.message,
        refusal.hint,
    )
}

/// A refusal page's fixed words: what went wrong, and what to do instead.
#[derive(Debug, Serialize)]
pub struct Refusal {
    pub heading: &'static str,
    pub message: &'static str,
    pub hint: Option<&'static str>,
}

/// Every fixed word the pages show, in one language. Templates get it as `w`; sentences
/// that wrap a value in markup are split around it (`("Recorded as ", ": ")`), so the
/// value stays escaped and the markup stays in the template. The words that carry a
/// number or a date are the methods below.
#[derive(Debug, Serialize)]
pub struct Words {
    #[serde(skip)]
    pub language: Lang,
    /// `<html lang>`.
    pub lang: &'static str,
    pub log_out: &'static str,
    pub go_to_review: &'static str,
    // The review page.
    pub review_title: &'static str,
    pub review_heading: &'static str,
    pub keys: &'static str,
    pub keys_move: &'static str,
    pub outlets: &'static str,
    pub score: &'static str,
    // A link's confirmation page.
    pub mark_as: &'static str,
    pub confirm_question: (&'static str, &'static str),
    pub watch: &'static str,
    pub already_marked: (&'static str, &'static str),
    pub marked_now: (&'static str, &'static str),
    pub note_optional: &'static str,
    pub nothing_until_pressed: &'static str,
    pub valid_until: &'static str,
    // The page after a link's button.
    pub recorded_title: &'static str,
    pub thank_you: &'static str,
    pub changed_from: (&'static str, &'static str, &'static str),
    pub recorded_as: (&'static str, &'static str),
    pub quote: (&'static str, &'static str),
    pub your_note: &'static str,
    pub judge_others: &'static str,
    // Crisis escalation.
    pub alerted: &'static str,
    pub already_escalated: &'static str,
    pub no_crisis_rule: &'static str,
    // Login.
    pub log_in: &'static str,
    pub user: &'static str,
    pub password: &'static str,
    pub wrong_login: &'static str,
    // Refusals.
    pub pages_off: Refusal,
    pub cross_site: Refusal,
    pub csrf_refused: Refusal,
    pub store_failed: Refusal,
    pub not_found: Refusal,
    pub forged: Refusal,
    pub malformed: Refusal,
    pub key_unusable: Refusal,
    pub gone: Refusal,
    pub needs_password: Refusal,
    pub login_unavailable: Refusal,
    pub which_story: Refusal,
    pub misdirected: Refusal,
    pub login_busy: Refusal,
    pub login_throttled_heading: &'static str,
    pub expired_heading: &'static str,
    pub beyond_lifetime_heading: &'static str,
    pub expired_hint: &'static str,
    pub unknown_verdict_heading: &'static str,
    pub ask_elsewhere: &'static str,
    pub not_finished_heading: &'static str,
    pub not_finished_hint: &'static str,
    /// The plain-text answer when a page cannot be rendered at all.
    pub render_failed: &'static str,
}

const EN: Words = Words {
    language: Lang::En,
    lang: "en",
    log_out: "Log out",
    go_to_review: "Go to the review page",
    review_title: "Review",
    review_heading: "Stories to judge",
    keys: "Keys:",
    keys_move: "next/previous story",
    outlets: "outlets",
    score: "score",
    mark_as: "Mark as",
    confirm_question: ("Mark this story as ", "?"),
    watch: "watch:",
    already_marked: ("It is already marked ", "."),
    marked_now: ("It is marked ", " now; confirming changes it."),
    note_optional: "Note (optional)",
    nothing_until_pressed: "Nothing is recorded until you press the button.",
    valid_until: "This link stays valid until",
    recorded_title: "Recorded",
    thank_you: "Thank you",
    changed_from: ("Changed from ", " to ", ": "),
    recorded_as: ("Recorded as ", ": "),
    quote: ("“", "”"),
    your_note: "Your note:",
    judge_others: "Judge other stories on the review page",
    alerted: "The crisis managers were alerted by mail.",
    already_escalated: "This story was already escalated as a crisis: the crisis managers were \
                        alerted then, and are not mailed again.",
    no_crisis_rule: "No crisis alert rule covers this watch, so nobody else was alerted (an \
                     admin can set crisis = true on an [[alert]] rule).",
    log_in: "Log in",
    user: "User",
    password: "Password",
    wrong_login: "Wrong user name or password.",
    pages_off: Refusal {
        heading: "Judgment pages are off",
        message: "This veille does not serve judgment pages: its configuration has no [web] \
                  section.",
        hint: None,
    },
    cross_site: Refusal {
        heading: "Refused",
        message: "This form was sent from another site, so nothing was changed.",
        hint: Some("Use the page veille shows, on its own address."),
    },
    csrf_refused: Refusal {
        heading: "Refused",
        message: "This form is out of date or was not sent by veille's own page, so nothing \
                  was changed.",
        hint: Some("Reload the page and try again."),
    },
    store_failed: Refusal {
        heading: "veille is unavailable",
        message: "veille cannot read its database right now; its log says why. Try again in \
                  a moment.",
        hint: None,
    },
    not_found: Refusal {
        heading: "Not found",
        message: "There is no page at this address.",
        hint: None,
    },
    forged: Refusal {
        heading: "This link is not valid",
        message: "This link was changed or cut after veille sent it, so it cannot be trusted \
                  (copy the whole link from the mail).",
        hint: Some(ASK_EN),
    },
    malformed: Refusal {
        heading: "This link is incomplete",
        message: "This link does not have the form of a veille judgment link; it was probably \
                  cut by a mail program.",
        hint: Some(ASK_EN),
    },
    key_unusable: Refusal {
        heading: "Judgment links are unavailable",
        message: "veille cannot check links right now; its log says why.",
        hint: None,
    },
    gone: Refusal {
        heading: "This item is gone",
        message: "veille no longer has this item: it was removed by the retention policy, or \
                  the link is for another veille.",
        hint: None,
    },
    needs_password: Refusal {
        heading: "The review page needs a password",
        message: "This veille has no password for its review page, so the page only answers \
                  on the machine itself, not through a proxy.",
        hint: Some(
            "The admin can set web.password_hash (the line `veille hash-password` prints) to \
             open it through the proxy.",
        ),
    },
    login_unavailable: Refusal {
        heading: "Login unavailable",
        message: "veille cannot check passwords: web.password_hash is not a valid password \
                  hash. The admin can make one with `veille hash-password`.",
        hint: None,
    },
    which_story: Refusal {
        heading: "Which story?",
        message: "This form does not say which story to judge.",
        hint: Some("Reload the review page and try again."),
    },
    misdirected: Refusal {
        heading: "Wrong address",
        message: "This veille does not answer under the name this request used.",
        hint: Some(
            "Use the address in veille's mails (web.base_url), or localhost on the machine \
             itself.",
        ),
    },
    login_busy: Refusal {
        heading: "Too many logins at once",
        message: "veille is checking too many passwords right now, so this one was not \
                  checked.",
        hint: Some("Try again in a few seconds."),
    },
    login_throttled_heading: "Too many login attempts",
    expired_heading: "This link has expired",
    beyond_lifetime_heading: "This link was not issued by this veille",
    expired_hint: "Judge it on the review page or ask for a new digest.",
    unknown_verdict_heading: "Unknown verdict",
    ask_elsewhere: ASK_EN,
    not_finished_heading: "Not finished",
    not_finished_hint: "Check the review page: if the story is still there, judge it again.",
    render_failed: "veille could not render this page; the daemon's log says why.",
};

const ASK_EN: &str = "Judge it on the review page, or use the links of a newer digest.";

const FR: Words = Words {
    language: Lang::Fr,
    lang: "fr",
    log_out: "Se déconnecter",
    go_to_review: "Aller à la page des sujets à juger",
    review_title: "À juger",
    review_heading: "Sujets à juger",
    keys: "Touches :",
    keys_move: "sujet suivant/précédent",
    outlets: "médias",
    score: "note",
    mark_as: "Marquer comme",
    confirm_question: ("Marquer ce sujet comme ", " ?"),
    watch: "thème :",
    already_marked: ("Il est déjà marqué ", "."),
    marked_now: (
        "Il est marqué ",
        " pour l’instant ; confirmer changera son verdict.",
    ),
    note_optional: "Remarque (facultative)",
    nothing_until_pressed: "Rien n’est enregistré tant que vous n’appuyez pas sur le bouton.",
    valid_until: "Ce lien reste valable jusqu’au",
    recorded_title: "Enregistré",
    thank_you: "Merci",
    changed_from: ("Verdict changé de ", " à ", " : "),
    recorded_as: ("Enregistré comme ", " : "),
    quote: ("« ", " »"),
    your_note: "Votre remarque :",
    judge_others: "Juger d’autres sujets",
    alerted: "La cellule de crise a été alertée par mail.",
    already_escalated: "Ce sujet a déjà été signalé comme crise : la cellule de crise a été \
                        alertée à ce moment-là, elle ne l’est pas une seconde fois.",
    no_crisis_rule: "Aucune règle d’alerte de crise ne couvre ce thème, donc personne d’autre \
                     n’a été alerté (un administrateur peut mettre crisis = true sur une règle \
                     [[alert]]).",
    log_in: "Se connecter",
    user: "Utilisateur",
    password: "Mot de passe",
    wrong_login: "Nom d’utilisateur ou mot de passe incorrect.",
    pages_off: Refusal {
        heading: "Pages de jugement désactivées",
        message: "Ce veille ne sert pas de pages de jugement : sa configuration n’a pas de \
                  section [web].",
        hint: None,
    },
    cross_site: Refusal {
        heading: "Refusé",
        message: "Ce formulaire a été envoyé depuis un autre site, donc rien n’a été modifié.",
        hint: Some("Utilisez la page que veille affiche, à sa propre adresse."),
    },
    csrf_refused: Refusal {
        heading: "Refusé",
        message: "Ce formulaire est périmé ou n’a pas été envoyé par la page de veille, donc \
                  rien n’a été modifié.",
        hint: Some("Rechargez la page et réessayez."),
    },
    store_failed: Refusal {
        heading: "veille est indisponible",
        message: "veille ne peut pas lire sa base de données pour l’instant ; son journal dit \
                  pourquoi. Réessayez dans un moment.",
        hint: None,
    },
    not_found: Refusal {
        heading: "Page introuvable",
        message: "Il n’y a pas de page à cette adresse.",
        hint: None,
    },
    forged: Refusal {
        heading: "Ce lien n’est pas valable",
        message: "Ce lien a été modifié ou coupé après son envoi par veille, on ne peut donc \
                  pas s’y fier (copiez le lien entier depuis le mail).",
        hint: Some(ASK_FR),
    },
    malformed: Refusal {
        heading: "Ce lien est incomplet",
        message: "Ce lien n’a pas la forme d’un lien de jugement de veille ; un logiciel de \
                  messagerie l’a sans doute coupé.",
        hint: Some(ASK_FR),
    },
    key_unusable: Refusal {
        heading: "Liens de jugement indisponibles",
        message: "veille ne peut pas vérifier les liens pour l’instant ; son journal dit \
                  pourquoi.",
        hint: None,
    },
    gone: Refusal {
        heading: "Cet article n’existe plus",
        message: "veille n’a plus cet article : il a été supprimé par la politique de \
                  conservation, ou le lien vient d’un autre veille.",
        hint: None,
    },
    needs_password: Refusal {
        heading: "La page des sujets à juger demande un mot de passe",
        message: "Ce veille n’a pas de mot de passe pour sa page des sujets à juger : elle ne \
                  répond donc que sur la machine elle-même, pas à travers un proxy.",
        hint: Some(
            "L’administrateur peut définir web.password_hash (la ligne qu’affiche \
             `veille hash-password`) pour l’ouvrir à travers le proxy.",
        ),
    },
    login_unavailable: Refusal {
        heading: "Connexion indisponible",
        message: "veille ne peut pas vérifier les mots de passe : web.password_hash n’est pas \
                  une empreinte de mot de passe valable. L’administrateur peut en créer une \
                  avec `veille hash-password`.",
        hint: None,
    },
    which_story: Refusal {
        heading: "Quel sujet ?",
        message: "Ce formulaire ne dit pas quel sujet juger.",
        hint: Some("Rechargez la page des sujets à juger et réessayez."),
    },
    misdirected: Refusal {
        heading: "Mauvaise adresse",
        message: "Ce veille ne répond pas sous le nom utilisé par cette requête.",
        hint: Some(
            "Utilisez l’adresse des mails de veille (web.base_url), ou localhost sur la \
             machine elle-même.",
        ),
    },
    login_busy: Refusal {
        heading: "Trop de connexions à la fois",
        message: "veille vérifie trop de mots de passe en ce moment : celui-ci n’a pas été \
                  vérifié.",
        hint: Some("Réessayez dans quelques secondes."),
    },
    login_throttled_heading: "Trop de tentatives de connexion",
    expired_heading: "Ce lien a expiré",
    beyond_lifetime_heading: "Ce lien n’a pas été émis par cette veille",
    expired_hint: "Jugez-le sur la page des sujets à juger ou demandez un nouveau digest.",
    unknown_verdict_heading: "Verdict inconnu",
    ask_elsewhere: ASK_FR,
    not_finished_heading: "Pas terminé",
    not_finished_hint: "Vérifiez la page des sujets à juger : si le sujet y est encore, \
                        jugez-le à nouveau.",
    render_failed: "veille n’a pas pu afficher cette page ; le journal du démon dit pourquoi.",
};

const ASK_FR: &str =
    "Jugez-le sur la page des sujets à juger, ou utilisez les liens d’un digest plus récent.";

impl Words {
    /// The words of `lang`.
    pub fn of(lang: Lang) -> &'static Words {
        match lang {
            Lang::En => &EN,
            Lang::Fr => &FR,
        }
    }

    /// A verdict as its button reads.
    pub fn verdict(&self, verdict: Verdict) -> &'static str {
        verdict.label(self.language)
    }

    /// A time in `timezone`, with the day and month names of the language.
    pub fn when(&self, at: DateTime<Utc>, timezone: &Tz) -> String {
        let local = at.with_timezone(timezone);
        match self.language {
            Lang::En => local.format(WHEN).to_string(),
            Lang::Fr => local.format_localized(WHEN, Locale::fr_FR).to_string(),
        }
    }

    /// How old an item is, in the words a reader skims.
    pub fn age(&self, now: DateTime<Utc>, at: DateTime<Utc>) -> String {
        let minutes = (now - at).num_minutes();
        let days = minutes / 1440;
        match (self.language, minutes) {
            (Lang::En, ..=0) => "just now".to_string(),
            (Lang::En, 1..60) => format!("{minutes} min ago"),
            (Lang::En, 60..1440) => format!("{} h ago", minutes / 60),
            (Lang::En, 1440..2880) => "yesterday".to_string(),
            (Lang::En, _) => format!("{days} days ago"),
            (Lang::Fr, ..=0) => "à l’instant".to_string(),
            (Lang::Fr, 1..60) => format!("il y a {minutes} min"),
            (Lang::Fr, 60..1440) => format!("il y a {} h", minutes / 60),
            (Lang::Fr, 1440..2880) => "hier".to_string(),
            (Lang::Fr, _) => format!("il y a {days} jours"),
        }
    }

    /// A score as people write decimals (`0,75` in French).
    pub fn score_of(&self, score: f64) -> String {
        let text = format!("{score:.2}");
        match self.language {
            Lang::En => text,
            Lang::Fr => text.replace('.', ","),
        }
    }

    /// The empty review page.
    pub fn nothing_left(&self, days: u32) -> String {
        match (self.language, days) {
            (Lang::En, 1) => "Nothing left to judge from the last day.".to_string(),
            (Lang::En, _) => format!("Nothing left to judge from the last {days} days."),
            (Lang::Fr, 0 | 1) => "Plus rien à juger depuis hier.".to_string(),
            (Lang::Fr, _) => format!("Plus rien à juger sur les {days} derniers jours."),
        }
    }

    /// " and 2 more items of the same story" (`others` items besides the one named).
    pub fn more_items(&self, others: usize) -> String {
        match (self.language, others) {
            (_, 0) => String::new(),
            (Lang::En, 1) => " and 1 more item of the same story".to_string(),
            (Lang::En, _) => format!(" and {others} more items of the same story"),
            (Lang::Fr, 1) => " et 1 autre article du même sujet".to_string(),
            (Lang::Fr, _) => format!(" et {others} autres articles du même sujet"),
        }
    }

    /// The review page's line after a judgment.
    pub fn marked(&self, verdict: Verdict, items: usize) -> String {
        let label = self.verdict(verdict);
        match (self.language, items) {
            (Lang::En, 0 | 1) => format!("Marked {label}."),
            (Lang::En, _) => format!("Marked {label} ({items} items of the story)."),
            (Lang::Fr, 0 | 1) => format!("Marqué {label}."),
            (Lang::Fr, _) => format!("Marqué {label} ({items} articles du sujet)."),
        }
    }

    /// An expired link, with the time it was valid until.
    pub fn expired(&self, until: &str) -> String {
        match self.language {
            Lang::En => format!("This link has expired (it was valid until {until})."),
            Lang::Fr => format!("Ce lien a expiré (il était valable jusqu’au {until})."),
        }
    }

    /// A signed link that claims to stay valid longer than veille's links ever do.
    pub fn beyond_lifetime(&self, until: &str) -> String {
        match self.language {
            Lang::En => format!(
                "This link says it stays valid until {until}, longer than the links veille \
                 mails ever do, so it cannot be trusted. Nothing was recorded."
            ),
            Lang::Fr => format!(
                "Ce lien se dit valable jusqu’au {until}, plus longtemps que tous les liens \
                 qu’envoie veille : il n’est pas digne de confiance. Rien n’a été enregistré."
            ),
        }
    }

    /// A link or a form that asks for a verdict veille does not know.
    pub fn unknown_verdict(&self, word: &str) -> String {
        match self.language {
            Lang::En => format!(
                "veille does not know the verdict “{word}” (it knows relevant, irrelevant and \
                 crisis)."
            ),
            Lang::Fr => format!(
                "veille ne connaît pas le verdict « {word} » (il connaît relevant, irrelevant \
                 et crisis)."
            ),
        }
    }

    /// Login attempts that must wait, with how long.
    pub fn login_throttled(&self, seconds: u64) -> String {
        let minutes = seconds.div_ceil(60);
        match (self.language, seconds < 60) {
            (Lang::En, true) => format!(
                "Too many wrong passwords were tried; nothing was checked. Try again in \
                 {seconds} s."
            ),
            (Lang::En, false) => format!(
                "Too many wrong passwords were tried; nothing was checked. Try again in \
                 {minutes} min."
            ),
            (Lang::Fr, true) => format!(
                "Trop de mots de passe erronés ont été essayés ; rien n’a été vérifié. \
                 Réessayez dans {seconds} s."
            ),
            (Lang::Fr, false) => format!(
                "Trop de mots de passe erronés ont été essayés ; rien n’a été vérifié. \
                 Réessayez dans {minutes} min."
            ),
        }
    }

    /// A verdict that could not be stored.
    pub fn not_finished(&self, error: &dyn std::fmt::Display) -> String {
        match self.language {
            Lang::En => format!("veille could not finish recording this verdict: {error}"),
            Lang::Fr => format!("veille n’a pas pu finir d’enregistrer ce verdict : {error}"),
        }
    }
}

/// Dates on pages: "Fri 27 Nov 2026 14:00 CET", "ven. 27 nov. 2026 14:00 CET".
const WHEN: &str = "%a %-d %b %Y %H:%M %Z";

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 27, 12, 0, 0)
            .single()
            .expect("time")
    }

    /// Every leaf of a words table, by its path (`quote.0`, `gone.heading`…).
    fn leaves(words: &Words) -> std::collections::BTreeMap<String, Option<String>> {
        fn walk(
            path: String,
            value: &serde_json::Value,
            out: &mut std::collections::BTreeMap<String, Option<String>>,
        ) {
            let child = |key: &dyn std::fmt::Display| {
                if path.is_empty() {
                    key.to_string()
                } else {
                    format!("{path}.{key}")
                }
            };
            match value {
                serde_json::Value::Object(map) => {
                    for (key, value) in map {
                        walk(child(key), value, out);
                    }
                }
                serde_json::Value::Array(items) => {
                    for (n, value) in items.iter().enumerate() {
                        walk(child(&n), value, out);
                    }
                }
                serde_json::Value::String(text) => {
                    out.insert(path, Some(text.clone()));
                }
                _ => {
                    out.insert(path, None);
                }
            }
        }
        let mut out = std::collections::BTreeMap::new();
        let value = serde_json::to_value(words).expect("words serialize");
        walk(String::new(), &value, &mut out);
        out
    }

    #[test]
    fn both_languages_have_the_same_words_and_french_leaks_no_english() {
        let (en, fr) = (leaves(Words::of(Lang::En)), leaves(Words::of(Lang::Fr)));
        assert_eq!(
            en.keys().collect::<Vec<_>>(),
            fr.keys().collect::<Vec<_>>(),
            "the two tables name the same words"
        );
        assert!(en.len() > 40, "{en:?}");
        // Words that are the same in both languages (punctuation after a value).
        let same = ["already_marked.1"];
        for (key, english) in &en {
            let french = &fr[key];
            if english.is_none() && french.is_none() {
                continue;
            }
            if same.contains(&key.as_str()) {
                assert_eq!(english, french, "{key}");
            } else {
                assert_ne!(english, french, "{key} is not translated");
            }
            assert_eq!(
                english.is_some(),
                french.is_some(),
                "{key}: a hint on one side only"
            );
        }
        for (key, french) in &fr {
            let french = french.as_deref().unwrap_or("");
            // French typography: a space before a colon or a question mark.
            for (n, c) in french.char_indices() {
                if matches!(c, ':' | '?' | '!') && n > 0 {
                    assert!(french[..n].ends_with(' '), "{key}: {french:?}");
                }
            }
            assert!(
                !french.contains('\''),
                "{key}: typographic apostrophes: {french:?}"
            );
        }
    }

    #[test]
    fn ages_read_like_a_person_says_them() {
        for (minutes, english, french) in [
            (-5, "just now", "à l’instant"),
            (0, "just now", "à l’instant"),
            (7, "7 min ago", "il y a 7 min"),
            (60, "1 h ago", "il y a 1 h"),
            (23 * 60 + 59, "23 h ago", "il y a 23 h"),
            (30 * 60, "yesterday", "hier"),
            (3 * 1440 + 5, "3 days ago", "il y a 3 jours"),
        ] {
            let at = now() - chrono::Duration::minutes(minutes);
            assert_eq!(Words::of(Lang::En).age(now(), at), english);
            assert_eq!(Words::of(Lang::Fr).age(now(), at), french);
        }
    }

    #[test]
    fn counts_dates_and_scores_follow_the_language() {
        let (en, fr) = (Words::of(Lang::En), Words::of(Lang::Fr));
        let paris = chrono_tz::Europe::Paris;
        for (got, expected) in [
            (en.when(now(), &paris), "Fri 27 Nov 2026 13:00 CET"),
            (fr.when(now(), &paris), "ven. 27 nov. 2026 13:00 CET"),
            (en.score_of(0.756), "0.76"),
            (fr.score_of(0.756), "0,76"),
            (en.more_items(0), ""),
            (en.more_items(1), " and 1 more item of the same story"),
            (fr.more_items(2), " et 2 autres articles du même sujet"),
            (
                en.nothing_left(1),
                "Nothing left to judge from the last day.",
            ),
            (
                en.nothing_left(7),
                "Nothing left to judge from the last 7 days.",
            ),
            (
                fr.nothing_left(7),
                "Plus rien à juger sur les 7 derniers jours.",
            ),
            (fr.verdict(Verdict::Irrelevant).to_string(), "Hors sujet"),
        ] {
            assert_eq!(got, expected);
        }
    }

    #[test]
    fn a_french_page_has_french_words_and_still_escapes() {
        let html = environment()
            .expect("templates compile")
            .get_template("refused.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    w => Value::from(minijinja::value::Serde(Words::of(Lang::Fr))),
                    heading => "Non",
                    message => "<b>x</b>",
                })
            })
            .expect("render");
        assert!(html.contains("<html lang=\"fr\">"), "{html}");
        assert!(
            html.contains("Aller à la page des sujets à juger"),
            "{html}"
        );
        assert!(html.contains("&lt;b&gt;x"), "{html}");
    }

    #[test]
    fn every_template_compiles() {
        let env = environment().expect("templates compile");
        for (name, _) in TEMPLATES {
            assert!(env.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn refusal_text_is_escaped() {
        let env = environment().expect("templates compile");
        let html = env
            .get_template("refused.html")
            .and_then(|t| {
                t.render(minijinja::context! {
                    w => Value::from(minijinja::value::Serde(Words::of(Lang::En))),
                    heading => "No",
                    message => "<script>alert(1)</script>",
                })
            })
            .expect("render");
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(html.contains("&lt;script&gt;"), "{html}");
        assert!(html.contains("name=\"viewport\""), "{html}");
    }
}
