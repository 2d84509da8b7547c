//! Jobs: what to total, over which field, and how to judge it.
//!
//! A *job* is data, not code (SPEC §2): the function (`high_sum` of bytes sent), the *over
//! field* whose values are judged against each other (country code, region, destination IP or
//! port), the bucket span and the influencer fields. A new split field is a new [`JobConfig`]
//! value, not a new module.
