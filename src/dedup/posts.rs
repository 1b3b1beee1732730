//! Social posts in stories: what groups a boost, a repost or a quote with its original.
//!
//! Boosts and reposts usually carry the original post's link, so the canonical URL rule
//! groups them already. Two cases need more:
//! - a quote-post (or a post sharing an article) has its own link, and names the quoted
//!   post in its text: [`linked_urls`] finds those addresses, and a title-less item (a post)
//!   joins the story of a stored item at one of them;
//! - posts are short, often shorter than a usable shingle sample (see [`super::fingerprint`]),
//!   so the same text cross-posted by two accounts would never meet: [`exact_key`] gives a
//!   short text one key, its whole normalized wording, and equal keys from two sources join.
//!
//! Trade-off: the exact key needs the same words in the same order (a cross-post with one
//! word changed stays apart), and it is refused below [`MIN_EXACT_WORDS`] words, so "Thank
//! you!" from two accounts never makes a story.

use xxhash_rust::xxh3::xxh3_64_with_seed;

/// Fewest words a short text needs to be grouped by its exact wording.
pub const MIN_EXACT_WORDS: usize = 6;
/// Addresses read from one post's text at most (a post listing links is not a quote).
pub const MAX_LINKS: usize = 3;
/// Seeds the exact key, so it never equals a sampled shingle hash of the same words (both
/// live in one index).
const EXACT_SEED: u64 = 0x706f_7374_7465_7874;

/// The key of a short text's whole wording (normalized tokens), or `None` below
/// [`MIN_EXACT_WORDS`].
pub fn exact_key<'a>(tokens: impl IntoIterator<Item = &'a str>) -> Option<u64> {
    let tokens: Vec<&str> = tokens.into_iter().collect();
    (tokens.len() >= MIN_EXACT_WORDS)
        .then(|| xxh3_64_with_seed(tokens.join(" ").as_bytes(), EXACT_SEED))
}

/// The http(s) addresses written in a post's plain text, in order, at most [`MAX_LINKS`],
/// without the punctuation that closes a sentence around them.
pub fn linked_urls(text: &str) -> Vec<&str> {
    text.split_whitespace()
        .filter_map(|word| {
            let start = word.find("https://").or_else(|| word.find("http://"))?;
            let url = word[start..]
                .trim_end_matches(['.', ',', ';', ':', '!', '?', ')', ']', '»', '"', '\'', '…']);
            (url.len() > "https://".len()).then_some(url)
        })
        .take(MAX_LINKS)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_texts_get_a_key_from_their_whole_wording() {
        let key = |text: &str| exact_key(text.split(' '));
        assert_eq!(key("thank you"), None);
        let a = key("nordvent opens a wind farm in brest");
        assert!(a.is_some());
        assert_eq!(a, key("nordvent opens a wind farm in brest"));
        assert_ne!(a, key("nordvent opens a wind farm in lorient"));
        assert_ne!(a, key("brest in farm wind a opens nordvent"));
    }

    #[test]
    fn links_are_read_from_post_text() {
        let cases: &[(&str, &[&str])] = &[
            (
                "RE: https://mastodon.example/@alice/111. Bien vu !",
                &["https://mastodon.example/@alice/111"],
            ),
            (
                "(via https://news.example/a?id=1) et «https://b.example/x»",
                &["https://news.example/a?id=1", "https://b.example/x"],
            ),
            ("pas de lien ici, ni https:// seul", &[]),
            (
                "http://1.example https://2.example https://3.example https://4.example",
                &["http://1.example", "https://2.example", "https://3.example"],
            ),
        ];
        for (text, want) in cases {
            assert_eq!(linked_urls(text), *want, "{text}");
        }
    }
}
