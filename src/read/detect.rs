//! Recognising an input's format from its first lines, and choosing its parser.
//!
//! A *sample* is the first few lines of an input. Each format has a mark that shows on its
//! first record or header: Zeek TSV starts with `#separator` / `#fields`, Suricata EVE events
//! carry `event_type`, Zeek JSON has `ts` and `id.orig_h`, ECS has `@timestamp` or `source`,
//! and an Argus file opens with a header naming `StartTime` and `SrcAddr`. A line with none of
//! these marks (or broken JSON) says nothing, and the next line is tried.

use crate::read::argus::ArgusParser;
use crate::read::ecs::EcsParser;
use crate::read::json::{has, parse_object};
use crate::read::suricata::SuricataParser;
use crate::read::zeek_json::ZeekJsonParser;
use crate::read::zeek_tsv::ZeekTsvParser;
use crate::read::{InputFormat, RecordParser};

/// Guesses the format from the first lines of an input; `None` when no line is conclusive.
pub fn detect_format(sample_lines: &[&str]) -> Option<InputFormat> {
    sample_lines.iter().find_map(|line| detect_line(line.trim()))
}

fn detect_line(line: &str) -> Option<InputFormat> {
    if line.starts_with("#separator") || line.starts_with("#fields") {
        return Some(InputFormat::ZeekTsv);
    }
    if line.starts_with('{') {
        let record = parse_object(line).ok()?;
        // Suricata first: EVE shipped through Logstash gains `@timestamp` but keeps
        // `event_type`; Zeek before ECS for the same reason.
        if has(&record, "event_type") {
            return Some(InputFormat::SuricataEve);
        }
        if has(&record, "ts") && has(&record, "id.orig_h") {
            return Some(InputFormat::ZeekJson);
        }
        if has(&record, "@timestamp") || has(&record, "source") || has(&record, "source.ip") {
            return Some(InputFormat::Ecs);
        }
        return None;
    }
    let columns: Vec<&str> = line.split([',', '\t']).map(str::trim).collect();
    (columns.contains(&"StartTime") && columns.contains(&"SrcAddr")).then_some(InputFormat::Argus)
}

/// A fresh parser for one input of the given format.
pub fn parser_for(format: InputFormat) -> Box<dyn RecordParser> {
    match format {
        InputFormat::ZeekTsv => Box::new(ZeekTsvParser::new()),
        InputFormat::ZeekJson => Box::new(ZeekJsonParser::new()),
        InputFormat::SuricataEve => Box::new(SuricataParser::new()),
        InputFormat::Ecs => Box::new(EcsParser::new()),
        InputFormat::Argus => Box::new(ArgusParser::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIXTURES: [(&str, InputFormat); 7] = [
        (include_str!("../../fixtures/read/zeek-tsv-ctu-sme-11.conn.log"), InputFormat::ZeekTsv),
        (include_str!("../../fixtures/read/zeek-tsv-ctu-normal-40.conn.log"), InputFormat::ZeekTsv),
        (include_str!("../../fixtures/read/zeek-json-conn.log"), InputFormat::ZeekJson),
        (include_str!("../../fixtures/read/suricata-eve.json"), InputFormat::SuricataEve),
        (include_str!("../../fixtures/read/ecs-hand-written.ndjson"), InputFormat::Ecs),
        (include_str!("../../fixtures/read/argus-csv.binetflow"), InputFormat::Argus),
        (include_str!("../../fixtures/read/argus-tsv.binetflow"), InputFormat::Argus),
    ];

    #[test]
    fn detects_every_fixture_and_its_parser_reads_it_cleanly() {
        for (text, expected) in FIXTURES {
            let lines: Vec<&str> = text.lines().take(3).collect();
            assert_eq!(detect_format(&lines), Some(expected));
            let mut parser = parser_for(expected);
            for line in text.lines() {
                assert!(parser.parse_line(line).is_ok(), "{expected}: {line}");
            }
        }
    }

    #[test]
    fn inconclusive_lines_are_passed_over() {
        let lines =
            ["", "{\"message\":\"hello\"}", "not json {", r#"{"id":{"orig_h":"::1"},"ts":1}"#];
        assert_eq!(detect_format(&lines), Some(InputFormat::ZeekJson));
        assert_eq!(detect_format(&[r#"{"source":{"ip":"::1"}}"#]), Some(InputFormat::Ecs));
        assert_eq!(detect_format(&["#fields\tts"]), Some(InputFormat::ZeekTsv));
        assert_eq!(detect_format(&["a,b,c", "1,2,3"]), None);
        assert_eq!(detect_format(&[]), None);
    }
}
