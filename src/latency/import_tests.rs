//! Unit tests of measurement rows: CSV and JSON parsing, application, the state format.

use super::*;
use crate::latency::table::TableConfig;

const NOW: u64 = 1_800_000_000;

fn ok(_: &str) -> Result<(), String> {
    Ok(())
}

#[test]
fn csv_rows_with_defaults_comments_and_errors() {
    let text = "network,datacenter,rtt_ms,samples\n\
                # RUM export\n\
                198.51.100.0/24, fra, 12.5, 40\n\
                \n\
                2001:db8:1::/48,iad,80\n\
                192.0.2.7,iad,3.25,2,1799999000\n\
                nope,fra,1\n\
                198.51.100.0/24,fra\n\
                198.51.100.0/24,fra,fast\n";
    let (rows, errors) = parse(text);
    assert_eq!(rows.len(), 3);
    assert_eq!(
        rows[0],
        Row {
            network: "198.51.100.0/24".parse().unwrap(),
            datacenter: "fra".into(),
            rtt_ms: 12.5,
            samples: 40,
            at: None
        }
    );
    assert_eq!((rows[1].samples, rows[1].at), (1, None));
    assert_eq!(rows[2].network.to_string(), "192.0.2.7/32");
    assert_eq!(rows[2].at, Some(1_799_999_000));
    let lines: Vec<usize> = errors.iter().map(|e| e.line).collect();
    assert_eq!(lines, [7, 8, 9]);
    assert!(errors[2].to_string().contains("rtt_ms: invalid number"));
}

#[test]
fn json_arrays_and_batches() {
    let (rows, errors) =
        parse(r#"[{"network":"198.51.100.0/24","datacenter":"fra","rtt_ms":9,"samples":3}]"#);
    assert_eq!((rows.len(), errors.len()), (1, 0));
    assert_eq!(rows[0].samples, 3);
    let (rows, errors) = parse_json(
        r#"{"datacenter":"iad","samples":[{"network":"192.0.2.0/24","rtt_ms":4.5},
            {"network":"bad","rtt_ms":1},{"network":"10.0.0.0/24","datacenter":"fra","rtt_ms":2}]}"#,
        None,
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].datacenter.as_str(), rows[1].datacenter.as_str()),
        ("iad", "fra")
    );
    assert_eq!(errors[0].line, 2);
    let (rows, errors) = parse_json(r#"[{"network":"10.0.0.0/24","rtt_ms":2}]"#, None);
    assert!(rows.is_empty());
    assert_eq!(errors[0].message, "datacenter: required");
    let (_, errors) = parse(r#"{"samples": 5}"#);
    assert!(errors[0].message.starts_with("invalid JSON"));
    let (_, errors) = parse(r#"[{"network":"10.0.0.0/24","rtt_ms":2,"extra":1}]"#);
    assert_eq!(errors.len(), 1);
}

#[test]
fn apply_expands_checks_and_reports() {
    let mut t = LatencyTable::new(TableConfig::default());
    let (rows, _) = parse(
        "198.51.100.0/23,fra,10\n\
         10.0.0.0/8,fra,10\n\
         192.0.2.0/24,mars,10\n\
         192.0.2.0/24,iad,-4\n",
    );
    let check = |dc: &str| {
        if dc == "mars" {
            Err("unknown datacenter mars".to_string())
        } else {
            Ok(())
        }
    };
    let applied = apply(&mut t, &rows, NOW, &check);
    assert_eq!((applied.accepted, applied.rejected), (2, 3));
    assert_eq!(t.networks(), 2);
    assert!(applied.errors[0].starts_with("row 2: 10.0.0.0/8 covers 65536"));
    assert_eq!(applied.errors[1], "row 3: unknown datacenter mars");
    assert!(applied.errors[2].starts_with("row 4: rtt_ms must be"));
}

#[test]
fn state_csv_round_trips_values_and_times() {
    let mut t = LatencyTable::new(TableConfig::default());
    let (rows, _) = parse("198.51.100.0/24,fra,12.25,7,1799999990\n2001:db8:1::/48,iad,80,1\n");
    apply(&mut t, &rows, NOW, &ok);
    let text = to_csv(&t);
    let mut back = LatencyTable::new(TableConfig::default());
    let (rows, errors) = parse(&text);
    assert!(errors.is_empty());
    let applied = apply(&mut back, &rows, NOW + 10, &ok);
    assert_eq!(applied.accepted, 2);
    let key = back.prefixes().key("198.51.100.1".parse().unwrap());
    let rtt = back
        .rtt(key, back.dc_index("fra").unwrap(), NOW + 10)
        .unwrap();
    assert_eq!(
        (rtt.rtt_ms, rtt.samples, rtt.updated),
        (12.25, 7, 1_799_999_990)
    );
    let key6 = back.prefixes().key("2001:db8:1::1".parse().unwrap());
    assert_eq!(
        back.rtt(key6, back.dc_index("iad").unwrap(), NOW + 10)
            .unwrap()
            .updated,
        NOW
    );
}

#[test]
fn errors_are_capped() {
    let mut a = Applied::default();
    for i in 0..30 {
        a.error(i);
    }
    assert_eq!((a.rejected, a.errors.len()), (30, MAX_ERRORS));
}
