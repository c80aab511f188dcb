//! What a call costs: the operator's price table (`[llm.prices."<model>"]`),
//! in money per million tokens, and the cost of one ask in micro-units
//! (millionths of the currency unit, so sums stay exact integers).
//!
//! A price of `p` per million tokens makes each token cost `p` micro-units:
//! an ask's cost is its tokens times the prices, rounded once per ask.

use serde::{Deserialize, Serialize};

/// The highest price per million tokens the table takes.
pub const MAX_PRICE: f64 = 10_000.0;

/// One model's prices, per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    /// Prompt tokens.
    pub input: f64,
    /// Completion tokens.
    pub output: f64,
    /// Prompt tokens the provider served from its prompt cache (default:
    /// `input`).
    pub cached_input: Option<f64>,
    /// The share taken off through the provider's batch API (0 to 1;
    /// default 0.5, what OpenAI and Anthropic give).
    #[serde(default = "half")]
    pub batch_discount: f64,
}

fn half() -> f64 {
    0.5
}

/// Tokens one ask spent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tokens {
    pub prompt: u32,
    /// Of `prompt`, served from the provider's prompt cache.
    pub cached: u32,
    pub completion: u32,
}

/// How an ask was sent: at the full price, or through a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lane {
    Live,
    Batch,
}

/// A price that is out of range, named by its model and field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("llm.prices.{model:?}.{field} must be 0 to {max}, got {value}")]
pub struct PriceError {
    pub model: String,
    pub field: &'static str,
    pub value: f64,
    pub max: f64,
}

impl Price {
    /// Every field in range (a price is outside data: a typo must not make
    /// a run's bill infinite or negative).
    pub fn check(&self, model: &str) -> Result<(), PriceError> {
        let fields = [
            ("input", self.input, MAX_PRICE),
            ("output", self.output, MAX_PRICE),
            (
                "cached_input",
                self.cached_input.unwrap_or(self.input),
                MAX_PRICE,
            ),
            ("batch_discount", self.batch_discount, 1.0),
        ];
        for (field, value, max) in fields {
            if !(value.is_finite() && (0.0..=max).contains(&value)) {
                return Err(PriceError {
                    model: model.to_string(),
                    field,
                    value,
                    max,
                });
            }
        }
        Ok(())
    }

    /// What `tokens` cost in micro-units through `lane`.
    pub fn cost_micros(&self, tokens: Tokens, lane: Lane) -> u64 {
        let cached = tokens.cached.min(tokens.prompt);
        let fresh = f64::from(tokens.prompt - cached);
        let full = fresh * self.input
            + f64::from(cached) * self.cached_input.unwrap_or(self.input)
            + f64::from(tokens.completion) * self.output;
        let paid = match lane {
            Lane::Live => full,
            Lane::Batch => full * (1.0 - self.batch_discount),
        };
        // In range by `check`: at most ~8.6e13, well inside u64.
        paid.round().max(0.0) as u64
    }
}

/// Micro-units as money, e.g. `1234567` as `1.234567`.
pub fn money(micros: u64) -> String {
    format!("{}.{:06}", micros / 1_000_000, micros % 1_000_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn price() -> Price {
        Price {
            input: 0.15,
            output: 0.60,
            cached_input: Some(0.075),
            batch_discount: 0.5,
        }
    }

    #[test]
    fn an_ask_costs_its_tokens_at_the_table_prices() {
        let tokens = Tokens {
            prompt: 1000,
            cached: 200,
            completion: 500,
        };
        // 800 * 0.15 + 200 * 0.075 + 500 * 0.60 = 120 + 15 + 300 = 435
        assert_eq!(price().cost_micros(tokens, Lane::Live), 435);
        assert_eq!(price().cost_micros(tokens, Lane::Batch), 218);
        let no_cache_price = Price {
            cached_input: None,
            ..price()
        };
        assert_eq!(no_cache_price.cost_micros(tokens, Lane::Live), 450);
        // More cached than prompt (a provider's number) counts as all cached.
        let odd = Tokens {
            prompt: 10,
            cached: 50,
            completion: 0,
        };
        assert_eq!(price().cost_micros(odd, Lane::Live), 1);
        assert_eq!(money(1_234_567), "1.234567");
        assert_eq!(money(5), "0.000005");
    }

    #[test]
    fn prices_out_of_range_are_named() {
        assert!(price().check("m").is_ok());
        for bad in [
            Price {
                input: -1.0,
                ..price()
            },
            Price {
                output: f64::NAN,
                ..price()
            },
            Price {
                batch_discount: 1.5,
                ..price()
            },
            Price {
                cached_input: Some(1e9),
                ..price()
            },
        ] {
            let e = bad.check("gpt").unwrap_err();
            assert!(e.to_string().starts_with("llm.prices.\"gpt\"."), "{e}");
        }
    }
}
