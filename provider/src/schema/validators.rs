//! Reusable validators, each with the rule the docs print.

use giif_proto::rules;

use super::model::Validator;
use crate::tfvalue::Value;

/// A single DNS label, as project names must be: they name VLAN segments,
/// Guacamole groups and gateway hosts.
pub const DNS_LABEL: Validator = Validator {
    rule: "A single DNS label: 1 to 63 letters, digits and hyphens, not starting or ending with a hyphen.",
    check: check_dns_label,
};

pub fn check_dns_label(value: &Value) -> Result<(), String> {
    value
        .as_str()
        .and_then(rules::dns_label_problem)
        .map_or(Ok(()), Err)
}

/// A calendar date, YYYY-MM-DD.
pub const ISO_DATE: Validator = Validator {
    rule: "A calendar date in the form YYYY-MM-DD.",
    check: check_iso_date,
};

pub fn check_iso_date(value: &Value) -> Result<(), String> {
    value
        .as_str()
        .and_then(rules::date_problem)
        .map_or(Ok(()), Err)
}

/// A Terraform duration such as "30s", "10m" or "1h30m".
pub const DURATION: Validator = Validator {
    rule: "A duration such as \"30s\", \"10m\" or \"1h30m\".",
    check: check_duration,
};

pub fn check_duration(value: &Value) -> Result<(), String> {
    let Some(text) = value.as_str() else {
        return Ok(());
    };
    parse_duration(text).map(|_| ()).ok_or_else(|| {
        format!("{text:?} is not a duration; write it like \"30s\", \"10m\" or \"1h30m\".")
    })
}

/// Parses Go-style durations made of hours, minutes, seconds and
/// milliseconds, as Terraform's `timeouts` blocks use.
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let mut total = std::time::Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.')?;
        let (number, tail) = rest.split_at(digits);
        let number: f64 = number.parse().ok()?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds = match unit {
            "h" => number * 3600.0,
            "m" => number * 60.0,
            "s" => number,
            "ms" => number / 1000.0,
            _ => return None,
        };
        total += std::time::Duration::from_secs_f64(seconds);
        rest = tail;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("90s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("1h30m"),
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(parse_duration("10"), None);
        assert_eq!(parse_duration("5 minutes"), None);
    }
}
