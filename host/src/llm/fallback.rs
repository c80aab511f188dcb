//! `[llm.fallback]`: the model a spent budget sends calls to, e.g. a
//! cheaper model of the same provider or the local llama.cpp server. What it
//! does not say is taken from `[llm]` when it is the same provider, else
//! from the provider's defaults (its usual address, no API key).

use serde::{Deserialize, Serialize};

use super::*;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FallbackConfig {
    pub model: String,
    /// Default: `[llm]`'s provider.
    pub provider: Option<Provider>,
    pub base_url: Option<String>,
    pub api_key_env: Option<String>,
    pub dialect: Option<Dialect>,
    pub max_in_flight: Option<u32>,
    pub timeout_secs: Option<f64>,
}

impl FallbackConfig {
    /// The fallback's whole configuration, `primary` filling what it leaves out.
    pub fn config(&self, primary: &LlmConfig) -> LlmConfig {
        let provider = self.provider.unwrap_or(primary.provider);
        let same = provider == primary.provider;
        let inherit = |own: &Option<String>, theirs: &String, default: &str| {
            own.clone().unwrap_or_else(|| {
                if same {
                    theirs.clone()
                } else {
                    default.to_string()
                }
            })
        };
        LlmConfig {
            provider,
            base_url: inherit(
                &self.base_url,
                &primary.base_url,
                provider.default_base_url(),
            ),
            model: self.model.clone(),
            api_key_env: inherit(&self.api_key_env, &primary.api_key_env, ""),
            dialect: self.dialect.or(if same { primary.dialect } else { None }),
            max_in_flight: self
                .max_in_flight
                .or(if same { primary.max_in_flight } else { None }),
            timeout_secs: self.timeout_secs.unwrap_or(primary.timeout_secs),
            requests_per_minute: primary.requests_per_minute.filter(|_| same),
            tokens_per_minute: primary.tokens_per_minute.filter(|_| same),
            allowed_models: Vec::new(),
            prices: Default::default(),
            budgets: Vec::new(),
            fallback: None,
            ..primary.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fallback_takes_what_it_leaves_out_from_its_own_provider() {
        let primary = LlmConfig {
            api_key_env: "KEY".into(),
            tokens_per_minute: Some(1000),
            ..LlmConfig::default()
        };
        let cheaper = FallbackConfig {
            model: "small".into(),
            provider: None,
            base_url: None,
            api_key_env: None,
            dialect: None,
            max_in_flight: None,
            timeout_secs: None,
        };
        let c = cheaper.config(&primary);
        assert_eq!(
            (
                c.model.as_str(),
                c.base_url.as_str(),
                c.api_key_env.as_str()
            ),
            ("small", primary.base_url.as_str(), "KEY")
        );
        assert_eq!(c.tokens_per_minute, Some(1000));
        let local = FallbackConfig {
            provider: Some(Provider::Llamacpp),
            ..cheaper
        };
        let c = local.config(&primary);
        assert_eq!(c.base_url, "http://127.0.0.1:8080/v1");
        assert_eq!(c.api_key_env, "", "no key goes to another provider");
        assert_eq!(c.tokens_per_minute, None);
        assert!(c.fallback.is_none() && c.budgets.is_empty());
    }
}
