//! Language codes as items carry them: ISO 639, two letters when the language has a
//! two-letter code (`fr`, `en`), else three (`gsw`). Declarations in feeds and pages
//! ([`declared`]), the detector's answers (`extract::lang`) and the `lang:` operator of
//! queries (`matching`) all go through here, so a `lang:fr` written by an admin and an
//! item declared `fr-FR` or `fre` meet on the same code.

use isolang::Language;

/// The longest declaration read (BCP 47 asks implementations to handle 35 characters;
/// real tags are 2 to 10): a longer one is not a language tag.
const MAX_TAG_BYTES: usize = 64;

/// A declared language (an HTML `lang`, an RSS `<language>`, an `xml:lang`) as the ISO 639
/// code items carry: the primary subtag, lowercase, two letters when ISO 639-1 has them;
/// `None` when the declaration names no language ISO 639 knows.
pub fn declared(tag: &str) -> Option<String> {
    let tag = tag.trim();
    if tag.len() > MAX_TAG_BYTES {
        return None;
    }
    let primary = tag.split(['-', '_']).next().unwrap_or_default();
    if !(2..=3).contains(&primary.len()) || !primary.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let primary = primary.to_ascii_lowercase();
    if primary.len() == 2 {
        // Codes ISO 639-1 withdrew that old software (Java's Locale among them) still writes.
        let current = match primary.as_str() {
            "iw" => "he",
            "in" => "id",
            "ji" => "yi",
            "jw" => "jv",
            "mo" => "ro",
            code => code,
        };
        return Language::from_639_1(current).and_then(|l| l.to_639_1().map(str::to_string));
    }
    // ISO 639-2's bibliographic codes, which 639-3 does not list (the frozen list of those
    // that differ from the terminology code).
    let terminology = match primary.as_str() {
        "alb" => "sqi",
        "arm" => "hye",
        "baq" => "eus",
        "bur" => "mya",
        "chi" => "zho",
        "cze" => "ces",
        "dut" => "nld",
        "fre" => "fra",
        "geo" => "kat",
        "ger" => "deu",
        "gre" => "ell",
        "ice" => "isl",
        "mac" => "mkd",
        "mao" => "mri",
        "may" => "msa",
        "per" => "fas",
        "rum" => "ron",
        "slo" => "slk",
        "tib" => "bod",
        "wel" => "cym",
        code => code,
    };
    from_639_3(terminology).map(str::to_string)
}

/// An ISO 639-3 code as items carry it: its ISO 639-1 code when it has one, else itself;
/// `None` for the codes that say there is no single language (`und`, `mul`, `zxx`, `mis`),
/// local-use codes (`qaa`–`qtz`) and unknown ones.
pub fn from_639_3(code: &str) -> Option<&'static str> {
    // Individual languages whatlang reports (or feeds declare) whose two-letter code is
    // their macrolanguage's: a reader filtering on `zh` means Mandarin too.
    let macrolanguage = match code {
        "cmn" => Some("zh"),
        "pes" => Some("fa"),
        "arb" => Some("ar"),
        "ekk" => Some("et"),
        "lvs" => Some("lv"),
        "zsm" => Some("ms"),
        "swh" => Some("sw"),
        _ => None,
    };
    if macrolanguage.is_some() {
        return macrolanguage;
    }
    if matches!(code, "und" | "mul" | "zxx" | "mis") || ("qaa"..="qtz").contains(&code) {
        return None;
    }
    let language = Language::from_639_3(code)?;
    Some(language.to_639_1().unwrap_or_else(|| language.to_639_3()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn declarations_become_their_primary_iso_639_1_subtag() {
        let junk = "é".repeat(100);
        let cases: &[(&str, Option<&str>)] = &[
            ("fr", Some("fr")),
            ("fr-FR", Some("fr")),
            ("fr_FR", Some("fr")),
            ("FR", Some("fr")),
            (" fr ", Some("fr")),
            ("\n\tfr-ca\n", Some("fr")),
            ("en-us", Some("en")),
            ("en-GB", Some("en")),
            ("zh-Hant-TW", Some("zh")),
            ("pt-BR", Some("pt")),
            ("fr_FR.UTF-8", Some("fr")),
            // Three letters with a two-letter equivalent, terminology or bibliographic.
            ("fra", Some("fr")),
            ("eng", Some("en")),
            ("FRA-fr", Some("fr")),
            ("deu", Some("de")),
            ("ger", Some("de")),
            ("fre", Some("fr")),
            ("cmn-Hans", Some("zh")),
            // No two-letter code: the three letters stay.
            ("gsw", Some("gsw")),
            ("haw", Some("haw")),
            // Withdrawn codes, still written.
            ("iw", Some("he")),
            ("in-ID", Some("id")),
            // Not a language.
            ("*", None),
            ("x-klingon", None),
            ("i-klingon", None),
            ("", None),
            ("   ", None),
            ("-fr", None),
            ("f", None),
            ("fren", None),
            ("fr1", None),
            ("f r", None),
            ("fr FR", None),
            ("zz", None),
            ("xyz", None),
            ("und", None),
            ("mul", None),
            ("zxx", None),
            ("qab", None),
            ("français", None),
            ("en;q=0.8", None),
            (&junk, None),
            (&"a".repeat(200), None),
            (&format!("en-{}", "x".repeat(200)), None),
        ];
        for (tag, want) in cases {
            assert_eq!(declared(tag).as_deref(), *want, "{tag:?}");
        }
    }
}
