//! TEMP STUB (lead's integration only; replaced by the score branch).
use crate::matching::ItemText;
use crate::model::TermHit;

#[derive(Debug, Clone)]
pub struct RiskVocabulary {
    terms: Vec<String>,
}

impl RiskVocabulary {
    pub fn builtin() -> RiskVocabulary {
        RiskVocabulary {
            terms: ["boycott", "scandale", "crise", "grève"]
                .iter()
                .map(|s| s.to_string())
                .collect(),
        }
    }

    pub fn new(extra: &[String], with_builtin: bool) -> Result<RiskVocabulary, String> {
        let mut terms = if with_builtin {
            RiskVocabulary::builtin().terms
        } else {
            Vec::new()
        };
        for t in extra {
            if t.trim().is_empty() {
                return Err(format!("risk term {t:?} is empty"));
            }
            terms.push(t.to_lowercase());
        }
        Ok(RiskVocabulary { terms })
    }

    pub fn len(&self) -> usize {
        self.terms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub fn near(&self, item: ItemText<'_>, _hits: &[TermHit]) -> Vec<String> {
        let text = format!("{} {}", item.title, item.body).to_lowercase();
        self.terms
            .iter()
            .filter(|t| text.contains(t.as_str()))
            .cloned()
            .collect()
    }
}
