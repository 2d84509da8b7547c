//! Flows carry their end time from every format that records one, and are counted in the
//! bucket where they ended.

use geoexfil::read::{parser_for, InputFormat, LineOutcome};

fn flow(format: InputFormat, lines: &[&str]) -> geoexfil::flow::Flow {
    let mut parser = parser_for(format);
    let mut found = None;
    for line in lines {
        if let Ok(LineOutcome::Flow(flow)) = parser.parse_line(line) {
            found = Some(flow);
        }
    }
    found.expect("a flow")
}

#[test]
fn zeek_end_is_start_plus_duration() {
    let f = flow(
        InputFormat::ZeekTsv,
        &[
            "#separator \\x09",
            "#fields\tts\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\tduration\torig_bytes",
            "1676851329.767505\t192.168.1.109\t68\t192.168.1.1\t67\t0.000890\t592",
        ],
    );
    assert_eq!(f.start_micros, 1_676_851_329_767_505);
    assert_eq!(f.end_micros, Some(1_676_851_329_768_395));
    assert_eq!(f.event_micros(), 1_676_851_329_768_395);
}

#[test]
fn argus_end_is_start_plus_dur() {
    let f = flow(
        InputFormat::Argus,
        &[
            "StartTime,Dur,Proto,SrcAddr,Sport,Dir,DstAddr,Dport,State,TotBytes,SrcBytes",
            "2019/04/04 16:23:00.325010,0.027947,udp,10.8.0.69,48427,  <->,8.8.8.8,53,CON,142,63",
        ],
    );
    assert_eq!(f.end_micros, Some(f.start_micros + 27_947));
}

#[test]
fn suricata_end_is_flow_end() {
    let line = concat!(
        r#"{"event_type":"flow","src_ip":"10.0.0.5","src_port":5000,"dest_ip":"8.8.8.8","#,
        r#""dest_port":443,"proto":"TCP","flow":{"bytes_toserver":1000,"bytes_toclient":10,"#,
        r#""start":"2021-06-06T15:59:46.457984+0200","end":"2021-06-07T15:59:46.457984+0200"}}"#
    );
    let f = flow(InputFormat::SuricataEve, &[line]);
    assert_eq!(f.end_micros.unwrap() - f.start_micros, 86_400_000_000);
}

#[test]
fn ecs_end_comes_from_event_end_or_event_duration() {
    let with_end = concat!(
        r#"{"@timestamp":"2024-01-01T00:00:00Z","event":{"end":"2024-01-01T00:00:10Z"},"#,
        r#""source":{"ip":"10.0.0.5","bytes":5},"destination":{"ip":"8.8.8.8"}}"#
    );
    let f = flow(InputFormat::Ecs, &[with_end]);
    assert_eq!(f.end_micros.unwrap() - f.start_micros, 10_000_000);
    let with_duration = concat!(
        r#"{"@timestamp":"2024-01-01T00:00:00Z","event.duration":2500000000,"#,
        r#""source.ip":"10.0.0.5","source.bytes":5,"destination.ip":"8.8.8.8"}"#
    );
    let f = flow(InputFormat::Ecs, &[with_duration]);
    assert_eq!(f.end_micros.unwrap() - f.start_micros, 2_500_000);
}

#[test]
fn an_end_before_the_start_is_ignored_for_bucketing() {
    let mut f = flow(
        InputFormat::ZeekTsv,
        &[
            "#separator \\x09",
            "#fields\tts\tid.orig_h\tid.resp_h\torig_bytes",
            "100.0\t10.0.0.1\t8.8.8.8\t5",
        ],
    );
    f.end_micros = Some(1);
    assert_eq!(f.event_micros(), 100_000_000);
}
