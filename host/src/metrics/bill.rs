//! The LLM bill in Prometheus' text: spend by scope (from the queue's
//! ledger, so every host shows the whole queue's), and structured-output
//! calls, the calls that needed a re-ask, and the share of them, by job
//! type and model.

use std::fmt::Write;

use super::{escape, header};
use crate::queue::{AskFigures, Ledger};

/// Renders the ledger (`total` and `<scope>:<name>` fields; runs are left
/// to the bulk pages, one series per run would grow without end) and the
/// ask counts.
pub fn render_bill(w: &mut String, ledger: &Ledger, asks: &[AskFigures]) {
    header(
        w,
        "deckhand_llm_spend_micros_total",
        "counter",
        "LLM spend in millionths of the price table's currency, by scope (total, provider, model, type, group).",
    );
    for (field, micros) in ledger {
        let (scope, name) = field.split_once(':').unwrap_or((field.as_str(), ""));
        if scope == "run" {
            continue;
        }
        let _ = writeln!(
            w,
            "deckhand_llm_spend_micros_total{{scope=\"{}\",name=\"{}\"}} {micros}",
            escape(scope),
            escape(name)
        );
    }
    type Figure = fn(&AskFigures) -> u64;
    let counters: [(&str, &str, Figure); 3] = [
        (
            "deckhand_llm_structured_calls_total",
            "Structured-output LLM calls, by job type and model.",
            |a| a.calls,
        ),
        (
            "deckhand_llm_reasked_calls_total",
            "Structured-output LLM calls that needed at least one re-ask, by job type and model.",
            |a| a.reasked,
        ),
        (
            "deckhand_llm_reasks_total",
            "Re-asks (an answer refused for its JSON or schema, asked again), by job type and model.",
            |a| a.reasks,
        ),
    ];
    let labels = |a: &AskFigures| {
        format!(
            "{{job_type=\"{}\",model=\"{}\"}}",
            escape(&a.job_type),
            escape(&a.model)
        )
    };
    for (name, help, figure) in counters {
        header(w, name, "counter", help);
        for a in asks {
            let _ = writeln!(w, "{name}{} {}", labels(a), figure(a));
        }
    }
    header(
        w,
        "deckhand_llm_reask_share",
        "gauge",
        "Of the structured-output calls, the share that needed a re-ask, by job type and model.",
    );
    for a in asks {
        let share = if a.calls == 0 {
            0.0
        } else {
            a.reasked as f64 / a.calls as f64
        };
        let _ = writeln!(w, "deckhand_llm_reask_share{} {share}", labels(a));
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bill_renders_by_scope_and_the_share_of_reasks() {
        let ledger = [
            ("total".to_string(), 900u64),
            ("provider:openai".to_string(), 900),
            ("run:bulk-1".to_string(), 900),
        ]
        .into_iter()
        .collect();
        let asks = vec![crate::queue::AskFigures {
            job_type: "t\"x".into(),
            model: "m".into(),
            calls: 4,
            reasked: 1,
            reasks: 2,
        }];
        let mut w = String::new();
        super::render_bill(&mut w, &ledger, &asks);
        assert!(w.contains("deckhand_llm_spend_micros_total{scope=\"total\",name=\"\"} 900"));
        assert!(w.contains("{scope=\"provider\",name=\"openai\"} 900"));
        assert!(!w.contains("bulk-1"), "runs stay off /metrics");
        assert!(w.contains("deckhand_llm_reask_share{job_type=\"t\\\"x\",model=\"m\"} 0.25"));
        assert!(w.contains("deckhand_llm_reasks_total{job_type=\"t\\\"x\",model=\"m\"} 2"));
    }
}
