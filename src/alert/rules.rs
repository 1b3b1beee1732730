//! The `[[alert]]` rules, compiled once per configuration: each rule's risk vocabulary,
//! and the vocabulary the stored score uses.

use std::collections::HashSet;

use crate::config::{AlertConfig, Config};
use crate::matching::ItemText;
use crate::model::{TermHit, WatchId};
use crate::score::risk::RiskVocabulary;

/// One rule, ready to judge mentions.
#[derive(Debug)]
pub struct Rule {
    pub config: AlertConfig,
    pub vocabulary: RiskVocabulary,
    watches: HashSet<WatchId>,
}

impl Rule {
    pub fn covers(&self, watch: &WatchId) -> bool {
        self.watches.contains(watch)
    }
}

/// Every rule of a configuration.
#[derive(Debug)]
pub struct Rules {
    /// What the score stored on a mention (and shown in digests) looks for: the built-in
    /// lists and every term a rule adds, so a digest reader sees what any rule considers a
    /// risk.
    pub stored: RiskVocabulary,
    pub rules: Vec<Rule>,
}

impl Rules {
    pub fn new(config: &Config) -> Result<Rules, String> {
        let extra: Vec<String> = config
            .alerts
            .iter()
            .flat_map(|a| a.risk_terms.iter().cloned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        let stored = RiskVocabulary::new(&extra, true)?;
        let rules = config
            .alerts
            .iter()
            .map(|a| {
                let vocabulary = RiskVocabulary::new(&a.risk_terms, a.builtin_risk_terms)
                    .map_err(|e| format!("alert {:?}: {e}", a.id.as_str()))?;
                Ok(Rule {
                    config: a.clone(),
                    vocabulary,
                    watches: a.watches.iter().cloned().collect(),
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(Rules { stored, rules })
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// The risk terms each rule finds near `hits` (None for rules that do not read `watch`),
    /// indexed like [`Rules::rules`].
    pub fn risk_by_rule(
        &self,
        watch: &WatchId,
        item: ItemText<'_>,
        hits: &[TermHit],
    ) -> Vec<Option<Vec<String>>> {
        self.rules
            .iter()
            .map(|rule| rule.covers(watch).then(|| rule.vocabulary.near(item, hits)))
            .collect()
    }
}
