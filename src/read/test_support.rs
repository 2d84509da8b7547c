//! Helpers shared by the reader tests: running a parser over a fixture and unpacking results.

use crate::flow::Flow;
use crate::read::{LineOutcome, ParseError, RecordParser};
use crate::skip::SkipReason;
use std::net::IpAddr;

/// Every line's outcome, in order.
pub fn parse_all(
    parser: &mut dyn RecordParser,
    text: &str,
) -> Vec<Result<LineOutcome, ParseError>> {
    text.lines().map(|line| parser.parse_line(line)).collect()
}

/// The flows among the outcomes; panics on any error so that fixtures stay clean.
pub fn flows(outcomes: &[Result<LineOutcome, ParseError>]) -> Vec<Flow> {
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Ok(LineOutcome::Flow(flow)) => Some(flow.clone()),
            Ok(_) => None,
            Err(error) => panic!("fixture line failed: {error}"),
        })
        .collect()
}

pub fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// Asserts an error's reason and field.
pub fn assert_error(
    result: Result<LineOutcome, ParseError>,
    reason: SkipReason,
    field: Option<&str>,
) -> ParseError {
    let error = result.expect_err("expected a parse error");
    assert_eq!((error.reason, error.field.as_deref()), (reason, field), "{error}");
    error
}
