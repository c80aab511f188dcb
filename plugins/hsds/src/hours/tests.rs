//! The hours parser on the forms scraped records use.

use super::*;

pub(super) fn read(text: &str) -> Vec<(String, String, String, String)> {
    let h = parse(text);
    h.schedules
        .iter()
        .map(|s| {
            (
                s["freq"].as_str().unwrap().to_string(),
                s["byday"].as_str().unwrap().to_string(),
                s["opens_at"].as_str().unwrap().to_string(),
                s["closes_at"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

pub(super) fn s(f: &str, d: &str, o: &str, c: &str) -> (String, String, String, String) {
    (f.into(), d.into(), o.into(), c.into())
}

#[test]
fn the_forms_seen_in_scraped_records() {
    assert_eq!(
        read("Monday: 9:00:00-12:00:00"),
        vec![s("WEEKLY", "MO", "09:00", "12:00")]
    );
    assert_eq!(
        read("Tues 10:00-11:00am"),
        vec![s("WEEKLY", "TU", "10:00", "11:00")]
    );
    assert_eq!(
        read("Mon-Fri 9am-5pm"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "09:00", "17:00")]
    );
    assert_eq!(
        read("M - F: 8:30a-4:30"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "08:30", "16:30")]
    );
    assert_eq!(
        read("2nd & 4th Tuesday 12:00pm - 4:00pm"),
        vec![s("MONTHLY", "2TU,4TU", "12:00", "16:00")]
    );
    assert_eq!(
        read("Sundays from 4:00 pm until 6:00 pm"),
        vec![s("WEEKLY", "SU", "16:00", "18:00")]
    );
    assert_eq!(
        read(
            "Monday: Closed Tuesday: 12:00 PM - 02:00 PM Wednesday: Closed Thursday: 12:00 PM - 02:00 PM Friday: Closed"
        ),
        vec![s("WEEKLY", "TU,TH", "12:00", "14:00")]
    );
    assert_eq!(
        read("Open Tuesday, Wednesday, & Thursday Hours: 9:00-1:00 PM"),
        vec![s("WEEKLY", "TU,WE,TH", "09:00", "13:00")]
    );
    assert_eq!(
        read("1st and 3rd Saturday 9am-11am"),
        vec![s("MONTHLY", "1SA,3SA", "09:00", "11:00")]
    );
}

#[test]
fn each_line_keeps_its_own_ordinals() {
    assert_eq!(
        read("2nd Tuesday 11:00 am -1:00 pm\n3rd Tuesday 5:00 pm -7:00 pm"),
        vec![
            s("MONTHLY", "2TU", "11:00", "13:00"),
            s("MONTHLY", "3TU", "17:00", "19:00")
        ]
    );
}

#[test]
fn what_it_cannot_read_is_returned_not_guessed() {
    let h = parse("Screening on 3rd Thursday; Pantry on 1st Saturday after 3rd Thursday");
    assert!(h.schedules.is_empty());
    assert!(!h.unparsed.is_empty());
    let h = parse("3rd Monday of the Month, 10am or 2pm");
    assert!(h.schedules.is_empty());
    assert!(!h.unparsed.is_empty());
    let h = parse("(610) 268-3365");
    assert!(h.schedules.is_empty(), "{h:?}");
    assert!(!looks_like_hours("(610) 268-3365"));
    assert!(looks_like_hours("Sundays from 4:00 pm until 6:00 pm"));
    assert!(mentions_hours(
        "Monday: 3rd Monday of the Month, 10am (except holidays)"
    ));
    assert!(!mentions_hours(
        "Participants can receive food once every 30 days."
    ));
}

#[test]
fn days_at_once_and_hours_without_am_or_pm() {
    assert_eq!(
        read("Daily 3:30pm - 5pm, closed holidays"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR,SA,SU", "15:30", "17:00")]
    );
    assert_eq!(
        read("Weekdays 9am-4pm; weekends 10am-1pm"),
        vec![
            s("WEEKLY", "MO,TU,WE,TH,FR", "09:00", "16:00"),
            s("WEEKLY", "SA,SU", "10:00", "13:00")
        ]
    );
    // No pantry opens overnight: the end of "9-5" is in the afternoon.
    assert_eq!(
        read("Monday 9-5"),
        vec![s("WEEKLY", "MO", "09:00", "17:00")]
    );
    assert_eq!(read("Thu 12-2"), vec![s("WEEKLY", "TH", "12:00", "14:00")]);
    assert_eq!(read("Fri 8-11"), vec![s("WEEKLY", "FR", "08:00", "11:00")]);
    // The "a" of "and" is no meridiem.
    assert_eq!(
        read("Open Tuesdays 10-2 and Saturdays 9-11."),
        vec![
            s("WEEKLY", "TU", "10:00", "14:00"),
            s("WEEKLY", "SA", "09:00", "11:00")
        ]
    );
}

#[test]
fn keys_that_name_days() {
    for key in [
        "monday",
        "Mon",
        "TH,FR",
        "mon-fri",
        "weekdays",
        "day_monday",
    ] {
        assert_eq!(names_days(key), key != "day_monday", "{key}");
    }
    for key in ["day_of_week", "hours", "open", ""] {
        assert!(!names_days(key), "{key}");
    }
}

#[test]
fn spanish_days() {
    assert_eq!(
        read("Lunes a Viernes 8:00-12:00"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "08:00", "12:00")]
    );
    assert_eq!(
        read("Miércoles y sábados 9am-11am"),
        vec![s("WEEKLY", "WE,SA", "09:00", "11:00")]
    );
    // Spanish times: "de 9:00 a 17:00", "8 a 12 y 14 a 17", "9:00 hrs".
    assert_eq!(
        read("Lunes a Viernes de 9:00 a 17:00"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "09:00", "17:00")]
    );
    assert_eq!(
        read("Martes de 8 a 12 y de 14 a 17"),
        vec![
            s("WEEKLY", "TU", "08:00", "12:00"),
            s("WEEKLY", "TU", "14:00", "17:00")
        ]
    );
    assert_eq!(
        read("Jueves de 9:00 hrs a 13:00 hrs"),
        vec![s("WEEKLY", "TH", "09:00", "13:00")]
    );
    // Spanish ordinals and fortnights.
    assert_eq!(
        read("Segundo y cuarto martes de 10 a 12"),
        vec![s("MONTHLY", "2TU,4TU", "10:00", "12:00")]
    );
    assert_eq!(
        read("Último sábado del mes 9am-11am"),
        vec![s("MONTHLY", "-1SA", "09:00", "11:00")]
    );
    let h = parse("Jueves cada dos semanas 4-6pm");
    assert_eq!(h.schedules[0]["interval"], 2, "{h:?}");
}

#[test]
fn compact_day_letters() {
    assert_eq!(
        read("MWF 9am-12pm"),
        vec![s("WEEKLY", "MO,WE,FR", "09:00", "12:00")]
    );
    assert_eq!(
        read("TTh 10-2"),
        vec![s("WEEKLY", "TU,TH", "10:00", "14:00")]
    );
    // The second T of MTWTF is Thursday's.
    assert_eq!(
        read("MTWTF 8-5"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "08:00", "17:00")]
    );
    // "Mt." (Mount) and "Tr." (Trail) are no days.
    assert_eq!(
        read("Mt. Zion Church Sat 9-11"),
        vec![s("WEEKLY", "SA", "09:00", "11:00")]
    );
    assert!(looks_like_hours("MWF 9-12"));
    assert!(!looks_like_hours("Mt 9-12"));
}

#[test]
fn two_ranges_share_their_days() {
    assert_eq!(
        read("Mon 9-11am & 1-3pm"),
        vec![
            s("WEEKLY", "MO", "09:00", "11:00"),
            s("WEEKLY", "MO", "13:00", "15:00")
        ]
    );
    assert_eq!(
        read("9-11am and 1-3pm Mon"),
        vec![
            s("WEEKLY", "MO", "09:00", "11:00"),
            s("WEEKLY", "MO", "13:00", "15:00")
        ]
    );
    // Days written after each range stay with it.
    assert_eq!(
        read("9am-12pm Monday, 1pm-3pm Wednesday"),
        vec![
            s("WEEKLY", "MO", "09:00", "12:00"),
            s("WEEKLY", "WE", "13:00", "15:00")
        ]
    );
    // A range with days of its own keeps them.
    assert_eq!(
        read("Mon 9-11, Wed 1-3"),
        vec![
            s("WEEKLY", "MO", "09:00", "11:00"),
            s("WEEKLY", "WE", "13:00", "15:00")
        ]
    );
}

#[test]
fn days_and_ordinals_after_the_range() {
    assert_eq!(
        read("9:00am - 12:00pm Mon, Wed & Fri"),
        vec![s("WEEKLY", "MO,WE,FR", "09:00", "12:00")]
    );
    assert_eq!(
        read("Mon.-Fri. 8:30-4:30"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "08:30", "16:30")]
    );
    assert_eq!(
        read("M, T, W 10-2"),
        vec![s("WEEKLY", "MO,TU,WE", "10:00", "14:00")]
    );
    assert_eq!(
        read("Sat 10AM-12PM (first Saturday only)"),
        vec![s("MONTHLY", "1SA", "10:00", "12:00")]
    );
    assert_eq!(
        read("Fridays 9:00 am – 11:00 am (1st & 3rd)"),
        vec![s("MONTHLY", "1FR,3FR", "09:00", "11:00")]
    );
    // A clause naming other days lends no ordinals.
    assert_eq!(
        read("Mon 9-11 (then 2nd Sat)"),
        vec![s("WEEKLY", "MO", "09:00", "11:00")]
    );
    // One of the shared sample records: each sentence keeps its days.
    assert_eq!(
        read(
            "Pantry is open from 9:00 – 11:00 a.m. on the 1st, 3rd, and 4th Tuesday of each \
             month. On the 2nd Tuesday of each month, it is open from 6:00 – 8:00 p.m."
        ),
        vec![
            s("MONTHLY", "1TU,3TU,4TU", "09:00", "11:00"),
            s("MONTHLY", "2TU", "18:00", "20:00")
        ]
    );
}

#[test]
fn an_opening_time_without_a_closing_time() {
    let opens = |text: &str| {
        let h = parse(text);
        assert!(h.unparsed.is_empty(), "{text}: {:?}", h.unparsed);
        h.schedules
            .iter()
            .map(|s| {
                assert!(s.get("closes_at").is_none(), "{text}: {s}");
                (
                    s["freq"].as_str().unwrap().to_string(),
                    s["byday"].as_str().unwrap().to_string(),
                    s["opens_at"].as_str().unwrap().to_string(),
                )
            })
            .collect::<Vec<_>>()
    };
    let o = |f: &str, d: &str, at: &str| (f.to_string(), d.to_string(), at.to_string());
    assert_eq!(
        opens("Last Wednesday of the month: 9:00 AM until food is gone."),
        vec![o("MONTHLY", "-1WE", "09:00")]
    );
    assert_eq!(
        opens("Monday: 3rd Monday of the Month, 10am (except holidays)"),
        vec![o("MONTHLY", "3MO", "10:00")]
    );
    assert_eq!(opens("Saturdays at noon"), vec![o("WEEKLY", "SA", "12:00")]);
    // Not an opening: a time to call, two times that are no range, no day.
    for text in [
        "Call Monday after 2pm",
        "Tuesday 10am or 2pm",
        "Opens at 9am",
    ] {
        assert!(parse(text).schedules.is_empty(), "{text}");
    }
}

#[test]
fn a_date_makes_one_opening() {
    let h = parse("Saturday, June 1, 2024 10am-12pm; 6/8/2024 10-12");
    let got: Vec<Value> = h
        .schedules
        .iter()
        .map(|s| {
            json!([
                s["freq"],
                s["byday"],
                s["dtstart"],
                s["count"],
                s["opens_at"]
            ])
        })
        .collect();
    assert_eq!(
        got,
        vec![
            json!(["WEEKLY", "SA", "2024-06-01", 1, "10:00"]),
            json!(["WEEKLY", "SA", "2024-06-08", 1, "10:00"])
        ]
    );
    // The date's digits are no time range: "06-01" is not 6 to 1.
    assert_eq!(parse("2024-06-01 10:00-12:00").schedules.len(), 1);
    assert!(parse("2024-06-01").schedules.is_empty());
}

#[test]
fn clock_forms() {
    // 24-hour times without a colon.
    assert_eq!(
        read("Monday-Friday 0800-1600"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "08:00", "16:00")]
    );
    // Two years are no times.
    assert!(read("2023-2024 season").is_empty());
    // "1-3", "5-7" without am/pm: afternoon and evening, no pantry opens
    // before dawn; "7-9" stays as written.
    assert_eq!(
        read("Thursday 1-3 and 5-7"),
        vec![
            s("WEEKLY", "TH", "13:00", "15:00"),
            s("WEEKLY", "TH", "17:00", "19:00")
        ]
    );
    assert_eq!(read("Sat 7-9"), vec![s("WEEKLY", "SA", "07:00", "09:00")]);
}

#[test]
fn a_sentence_after_a_dotted_meridiem_is_its_own() {
    // The call is the next sentence's, not the opening's.
    let h = parse("Monday - Friday: 9:00 a.m. - 4:30 p.m. Please call for an appointment.");
    assert_eq!(h.schedules.len(), 1, "{h:?}");
    assert_eq!(h.schedules[0]["closes_at"], "16:30");
    // A range's word in capitals after the meridiem goes on with the range.
    let h = parse("Monday 9:00 A.M. To 12:00 P.M.");
    assert_eq!(h.schedules.len(), 1, "{h:?}");
    assert_eq!(h.schedules[0]["closes_at"], "12:00");
    // In one sentence it is still a time to call.
    let h = parse("Call Monday - Friday 9 a.m. - 4 p.m. to register.");
    assert!(h.schedules.is_empty(), "{h:?}");
}

#[test]
fn we_re_is_no_wednesday() {
    let h = parse("We're open Tuesdays from 10 to noon and Thursday evenings from 5 to 7.");
    let days: Vec<&str> = h
        .schedules
        .iter()
        .filter_map(|s| s["byday"].as_str())
        .collect();
    assert_eq!(days, ["TU", "TH"], "{h:?}");
    assert_eq!(parse("TU,WE 9-11").schedules[0]["byday"], "TU,WE");
    // A title, a direction and a state code are no days either; days in a
    // row, joined or before a time still are.
    for (text, days) in [
        ("Fr. Mike's pantry is open Tuesday 10-12", "TU"),
        ("Oak Grove, MO 64075. Open Tuesday 10-12", "TU"),
        ("We serve W Main St residents Thursday 1-3", "TH"),
        ("M W F 9-12", "MO,WE,FR"),
        ("Fr. and Sa. 9-12", "FR,SA"),
        ("W 9-11", "WE"),
        // Letters that are no ZIP code after "MO" (one of them wider than a byte).
        ("Mo 1234é, Tuesday 10-12", "MO,TU"),
    ] {
        assert_eq!(parse(text).schedules[0]["byday"], days, "{text}");
    }
}

#[test]
fn ranges_that_count_something_else() {
    for (text, want) in [
        ("Children ages 5-12 eat free on Tuesday", vec![]),
        ("Room 10-12, Thursday 1-3", vec!["TH 13:00-15:00"]),
        (
            "Thursday 5-7 (2nd floor, rooms 3-4)",
            vec!["TH 17:00-19:00"],
        ),
        // A lunch break named first is no opening either.
        ("Closed for lunch 12-1, Monday 9-4", vec!["MO 09:00-16:00"]),
    ] {
        let got: Vec<String> = parse(text)
            .schedules
            .iter()
            .map(|s| {
                format!(
                    "{} {}-{}",
                    s["byday"].as_str().unwrap_or(""),
                    s["opens_at"].as_str().unwrap_or(""),
                    s["closes_at"].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(got, want, "{text}");
    }
}

#[test]
fn every_other_week() {
    for text in [
        "Every other Tuesday 2-4pm",
        "Biweekly Tuesdays 2-4pm",
        "Every 2nd week Tuesday 2-4pm",
        "Tuesday every second week 2-4pm",
    ] {
        let h = parse(text);
        assert_eq!(h.schedules.len(), 1, "{text}");
        assert_eq!(h.schedules[0]["freq"], "WEEKLY", "{text}");
        assert_eq!(h.schedules[0]["byday"], "TU", "{text}");
        assert_eq!(h.schedules[0]["interval"], 2, "{text}");
    }
    // Weekly and fortnightly on the same times stay apart.
    let h = parse("Mon 9-11; every other Wed 9-11");
    assert_eq!(h.schedules.len(), 2);
    assert!(parse("Tue 2-4pm").schedules[0].get("interval").is_none());
    // The 2nd week of the month is the month's second Tuesday.
    assert_eq!(
        read("2nd week of the month, Tuesday 2-4pm"),
        vec![s("MONTHLY", "2TU", "14:00", "16:00")]
    );
}

#[test]
fn round_the_clock() {
    let all = "MO,TU,WE,TH,FR,SA,SU";
    assert_eq!(
        read("Open 24 hours"),
        vec![s("WEEKLY", all, "00:00", "23:59")]
    );
    assert_eq!(
        read("24/7 drive-up locker"),
        vec![s("WEEKLY", all, "00:00", "23:59")]
    );
    assert_eq!(
        read("24 hrs Mon-Fri"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "00:00", "23:59")]
    );
    // A number of hours in prose is no opening time.
    assert!(read("Call 24 hours ahead").is_empty());
    assert!(read("Food for 7 days").is_empty());
}

#[test]
fn candidates_are_the_pieces_that_speak_of_times() {
    let text = "Food pantry. Tuesdays 10ish to noonish; Call first | 2nd Saturday 9-11";
    assert_eq!(
        candidates(text),
        ["Tuesdays 10ish to noonish", "2nd Saturday 9-11"]
    );
    // Days in one part, the time in another: the pair, as the text spells them.
    let split = "Hours: 10am - noon | Days: Tuesday and Thursday when school is in session";
    let found = candidates(split);
    assert_eq!(found[0], "tuesday and thursday 10am - noon", "{found:?}");
    assert_eq!(parse(&found[0]).schedules[0]["byday"], "TU,TH");
    assert_eq!(candidates("2nd Saturday; 9-11")[0], "2nd saturday 9-11");
    assert!(candidates("Call 555-0100 for help").is_empty());
    let many: String = (1..=12)
        .map(|i| format!("Monday {i}am-{}pm\n", i % 11 + 1))
        .collect();
    assert_eq!(candidates(&many).len(), 8);
}
