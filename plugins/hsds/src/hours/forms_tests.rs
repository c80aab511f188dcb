//! The hours parser on forms seen first in other scrapers' records: days
//! before another day's ordinal, clock times with dots or in words, an
//! excepted ordinal, a remark between ranges, a week table's rows, "between
//! ... and ...", French, a day's line before its time's, a closed day's
//! sentence before the open days, OpenStreetMap's nth days, single day
//! letters each before its range, bracketed clauses, a lunch break,
//! times for something else than coming for food, a day left out, a
//! season's variation in brackets, every night.

use super::tests::{read, s};

#[test]
fn weekly_days_before_the_ordinals_of_other_days() {
    assert_eq!(
        read("Every Tuesday and the last Saturday of the month 9-11am"),
        vec![
            s("WEEKLY", "TU", "09:00", "11:00"),
            s("MONTHLY", "-1SA", "09:00", "11:00")
        ]
    );
    // Ordinals after every day named stay with all of them.
    assert_eq!(
        read("1st and 3rd Saturdays 9-11am"),
        vec![s("MONTHLY", "1SA,3SA", "09:00", "11:00")]
    );
    assert_eq!(
        read("Fridays 9:00 am - 11:00 am (1st & 3rd)"),
        vec![s("MONTHLY", "1FR,3FR", "09:00", "11:00")]
    );
}

#[test]
fn a_dot_between_hour_and_minutes() {
    assert_eq!(
        read("Tuesday, Wednesday and Thursday, 10.00-12.00"),
        vec![s("WEEKLY", "TU,WE,TH", "10:00", "12:00")]
    );
    assert_eq!(
        read("Mon 9.30am - 11.30am"),
        vec![s("WEEKLY", "MO", "09:30", "11:30")]
    );
    // A price is no time.
    assert!(read("Wednesdays, $10.00 a box").is_empty());
}

#[test]
fn an_excepted_ordinal_and_a_remark_between_ranges() {
    assert_eq!(
        read("Thursdays (except the last Thursday) 4-6pm"),
        vec![s("WEEKLY", "TH", "16:00", "18:00")]
    );
    assert_eq!(
        read("Tuesdays: 10am-12pm (Seniors), 1pm-3pm (General)"),
        vec![
            s("WEEKLY", "TU", "10:00", "12:00"),
            s("WEEKLY", "TU", "13:00", "15:00")
        ]
    );
}

#[test]
fn hours_written_as_words() {
    assert_eq!(
        read("Saturdays from nine until noon"),
        vec![s("WEEKLY", "SA", "09:00", "12:00")]
    );
    assert_eq!(
        read("Tuesdays ten to two"),
        vec![s("WEEKLY", "TU", "10:00", "14:00")]
    );
    // A number word that is not an hour stays a word.
    assert!(read("Tuesdays, one box per family").is_empty());
}

#[test]
fn a_week_tables_rows_as_text() {
    assert_eq!(
        read("Mon | 9:00 | 12:00\nTue | closed\nWed | 13:00 | 15:00"),
        vec![
            s("WEEKLY", "MO", "09:00", "12:00"),
            s("WEEKLY", "WE", "13:00", "15:00")
        ]
    );
    assert_eq!(
        read("Mon | 9:00 | 12:00; Tue | closed; Wed | 13:00 | 15:00"),
        vec![
            s("WEEKLY", "MO", "09:00", "12:00"),
            s("WEEKLY", "WE", "13:00", "15:00")
        ]
    );
    // Cells that are not a day and two times stay parts of their own.
    assert_eq!(
        read("Sun: Closed | Mon: 9-5 | Tue: 9-5"),
        vec![s("WEEKLY", "MO,TU", "09:00", "17:00")]
    );
}

#[test]
fn between_one_time_and_another() {
    assert_eq!(
        read("Food is given out on Saturdays between 9 and 11 am."),
        vec![s("WEEKLY", "SA", "09:00", "11:00")]
    );
    assert_eq!(
        read("Martes entre 9 y 12"),
        vec![s("WEEKLY", "TU", "09:00", "12:00")]
    );
}

#[test]
fn french_days_and_ranges() {
    assert_eq!(
        read("Mardi et jeudi de 9h \u{e0} 11h30"),
        vec![s("WEEKLY", "TU,TH", "09:00", "11:30")]
    );
    assert_eq!(
        read("Lundi au vendredi : 9h - 17h"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "09:00", "17:00")]
    );
    // "mar" (March) and "sam" (a name) are no days.
    assert!(read("Sam's open house 9am-11am in Mar").is_empty());
}

#[test]
fn a_days_line_then_its_times_line() {
    assert_eq!(
        read("HOURS\nTuesday\n10am - 12pm\nThursday\n4pm - 6pm"),
        vec![
            s("WEEKLY", "TU", "10:00", "12:00"),
            s("WEEKLY", "TH", "16:00", "18:00")
        ]
    );
    // A time line after a line that is not only days stays alone.
    assert!(read("Call us\n10am - 12pm").is_empty());
}

#[test]
fn a_closed_days_sentence_before_the_open_days() {
    assert_eq!(
        read("Closed Mondays. Open Tuesday-Saturday 10-4"),
        vec![s("WEEKLY", "TU,WE,TH,FR,SA", "10:00", "16:00")]
    );
    assert_eq!(
        read("Monday: closed Tuesday: 12-2"),
        vec![s("WEEKLY", "TU", "12:00", "14:00")]
    );
}

#[test]
fn openstreetmap_nth_days() {
    assert_eq!(
        read("Tu,Th 09:00-11:00; Sa[2] 10:00-12:00"),
        vec![
            s("WEEKLY", "TU,TH", "09:00", "11:00"),
            s("MONTHLY", "2SA", "10:00", "12:00")
        ]
    );
    assert_eq!(
        read("Sa[1,3] 09:00-11:00; Fr[-1] 10:00-12:00"),
        vec![
            s("MONTHLY", "1SA,3SA", "09:00", "11:00"),
            s("MONTHLY", "-1FR", "10:00", "12:00")
        ]
    );
}

#[test]
fn single_day_letters_each_before_its_range() {
    assert_eq!(
        read("Hours: M 9-11, W 9-11, F 1-3"),
        vec![
            s("WEEKLY", "MO,WE", "09:00", "11:00"),
            s("WEEKLY", "FR", "13:00", "15:00")
        ]
    );
    // A letter after a word is no day: "Room M".
    assert!(read("Room M 9-11").is_empty());
}

#[test]
fn clauses_in_brackets_after_the_range() {
    assert_eq!(
        read("Saturday 9:00 AM-11:00 AM [1st, 3rd week(s)]"),
        vec![s("MONTHLY", "1SA,3SA", "09:00", "11:00")]
    );
    assert_eq!(
        read("Wednesday 5:00 PM-6:30 PM (Seniors only) [2nd week(s)]"),
        vec![s("MONTHLY", "2WE", "17:00", "18:30")]
    );
    // A bracket without its end is the rest of the text.
    assert_eq!(
        read("Friday 9-11am (1st & 3rd"),
        vec![s("MONTHLY", "1FR,3FR", "09:00", "11:00")]
    );
}

#[test]
fn a_break_is_no_opening() {
    assert_eq!(
        read("Hours: Wed 10:00am-2:00pm (closed 12-12:30 for lunch)"),
        vec![s("WEEKLY", "WE", "10:00", "14:00")]
    );
    assert_eq!(
        read("Mon-Fri 9am-5pm, closed from 12 to 1"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "09:00", "17:00")]
    );
}

#[test]
fn times_for_something_else_are_no_openings() {
    assert_eq!(
        read("Sign-up: Mondays 9-11am; Distribution: Thursdays 2-4pm"),
        vec![s("WEEKLY", "TH", "14:00", "16:00")]
    );
    assert_eq!(
        read("Call Monday-Friday 9-5 to register; pantry open Saturday 9-11"),
        vec![s("WEEKLY", "SA", "09:00", "11:00")]
    );
    assert_eq!(
        read("Volunteers needed Mondays 8-10am. Pantry: Wednesdays 1-3pm"),
        vec![s("WEEKLY", "WE", "13:00", "15:00")]
    );
    assert_eq!(
        read("Registration 9:00-9:30, distribution 9:30-11:00 Saturdays"),
        vec![s("WEEKLY", "SA", "09:30", "11:00")]
    );
    for text in [
        "Deliveries arrive Monday at 6am",
        "Applications accepted Tuesdays 1-3pm",
        "Call our 24/7 hotline",
    ] {
        let h = super::parse(text);
        assert!(h.schedules.is_empty() && h.unparsed.is_empty(), "{text}");
    }
    // A call in another sentence or clause leaves the opening alone.
    assert_eq!(
        read("Call ahead. Open Tuesdays 10-12"),
        vec![s("WEEKLY", "TU", "10:00", "12:00")]
    );
    assert_eq!(
        read("Tuesdays 10-12, call for info"),
        vec![s("WEEKLY", "TU", "10:00", "12:00")]
    );
    assert_eq!(
        read("By appointment: Tuesdays 10-12"),
        vec![s("WEEKLY", "TU", "10:00", "12:00")]
    );
}

#[test]
fn a_day_left_out_by_an_exception() {
    assert_eq!(
        read("Weekdays except Wednesday, 9-11am"),
        vec![s("WEEKLY", "MO,TU,TH,FR", "09:00", "11:00")]
    );
    assert_eq!(
        read("Mon-Fri 9-5 (excluding Thursday)"),
        vec![s("WEEKLY", "MO,TU,WE,FR", "09:00", "17:00")]
    );
    // An exception of every day it has leaves nothing.
    assert!(read("Wednesday 9-11 (except Wednesday)").is_empty());
    // An ordinal after the exception leaves one day a month out, not the day.
    assert_eq!(
        read("Thursdays (except the last Thursday) 4-6pm"),
        vec![s("WEEKLY", "TH", "16:00", "18:00")]
    );
}

#[test]
fn a_seasons_variation_in_brackets_is_no_opening_of_its_own() {
    assert_eq!(
        read("Tuesdays 9-11am (June-August: 8-10am)"),
        vec![s("WEEKLY", "TU", "09:00", "11:00")]
    );
    assert_eq!(
        read("Thursdays 5-7pm (summer hours 6-8pm)"),
        vec![s("WEEKLY", "TH", "17:00", "19:00")]
    );
    // A remark in brackets that names no season still joins its range.
    assert_eq!(
        read("Mon 10am-12pm (seniors), 1pm-3pm"),
        vec![
            s("WEEKLY", "MO", "10:00", "12:00"),
            s("WEEKLY", "MO", "13:00", "15:00")
        ]
    );
}

#[test]
fn every_night_is_every_day() {
    let week = "MO,TU,WE,TH,FR,SA,SU";
    assert_eq!(
        read("Dinner 5-6pm every night"),
        vec![s("WEEKLY", week, "17:00", "18:00")]
    );
    assert_eq!(
        read("Nightly 6-7pm"),
        vec![s("WEEKLY", week, "18:00", "19:00")]
    );
}

#[test]
fn the_hour_said_with_o_clock_or_its_half_of_the_day() {
    assert_eq!(
        read("Tuesday through Friday, 10 o'clock to 2 o'clock"),
        vec![s("WEEKLY", "TU,WE,TH,FR", "10:00", "14:00")]
    );
    assert_eq!(
        read("Saturdays, 9 in the morning until 1 in the afternoon"),
        vec![s("WEEKLY", "SA", "09:00", "13:00")]
    );
    assert_eq!(
        read("Thursdays from 5:30 to 8 in the evening"),
        vec![s("WEEKLY", "TH", "17:30", "20:00")]
    );
    assert_eq!(
        read("from nine o\u{2019}clock until noon on Sundays"),
        vec![s("WEEKLY", "SU", "09:00", "12:00")]
    );
    // "in the morning" after no hour says nothing of a time.
    assert!(read("Mondays in the morning").is_empty());
}

#[test]
fn a_forms_days_joined_by_a_bare_semicolon_are_one_list() {
    assert_eq!(
        read("Monday;Wednesday 4:00 PM-6:00 PM"),
        vec![s("WEEKLY", "MO,WE", "16:00", "18:00")]
    );
    assert_eq!(
        read("Monday;Tuesday;Friday 9-11am"),
        vec![s("WEEKLY", "MO,TU,FR", "09:00", "11:00")]
    );
    // A semicolon with a space still parts: the first day has no time.
    assert_eq!(
        read("Mon; Wed 9-11"),
        vec![s("WEEKLY", "WE", "09:00", "11:00")]
    );
    // A part with its own time is not a list of days.
    assert_eq!(
        read("Monday 9-11am;Wednesday 1-3pm"),
        vec![
            s("WEEKLY", "MO", "09:00", "11:00"),
            s("WEEKLY", "WE", "13:00", "15:00")
        ]
    );
}

#[test]
fn a_range_that_counts_years_or_pounds_is_no_opening() {
    assert_eq!(
        read("Wednesday 10:00 - 12:00 (0 - 18 years with parent)"),
        vec![s("WEEKLY", "WE", "10:00", "12:00")]
    );
    assert_eq!(
        read("Tuesday 9-11am, 5-10 lbs of produce, 10-20% off"),
        vec![s("WEEKLY", "TU", "09:00", "11:00")]
    );
    // A time's word after a range keeps it.
    assert_eq!(
        read("Friday 1-3 pm"),
        vec![s("WEEKLY", "FR", "13:00", "15:00")]
    );
}

#[test]
fn each_ordinal_with_its_own_day_and_an_offices_hours_beside_the_pantrys() {
    assert_eq!(
        read("1st Tue and 3rd Thu, 10-12"),
        vec![s("MONTHLY", "1TU,3TH", "10:00", "12:00")]
    );
    // Ordinals before days they share go with each of them.
    assert_eq!(
        read("2nd & 4th Tuesday and Thursday 10-12"),
        vec![s("MONTHLY", "2TU,4TU,2TH,4TH", "10:00", "12:00")]
    );
    assert_eq!(
        read("Office: Mon-Fri 9-4. Food pantry: Wednesdays 1-3 pm."),
        vec![s("WEEKLY", "WE", "13:00", "15:00")]
    );
    // An office's hours alone are the hours given.
    assert_eq!(
        read("Office hours: Mon-Fri 9-4"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "09:00", "16:00")]
    );
}

#[test]
fn a_dot_after_am_and_coming_in_after_a_call() {
    assert_eq!(
        read("Tuesday: 10 am. - 12 pm."),
        vec![s("WEEKLY", "TU", "10:00", "12:00")]
    );
    assert_eq!(
        read("Call 765-555-0134 or stop by Wednesdays between 2 and 4 pm."),
        vec![s("WEEKLY", "WE", "14:00", "16:00")]
    );
    // "call" and a number after an opening: how to reach it.
    assert_eq!(
        read("Food Box every friday 10-noon 515 W 4th St Reno NV 89503 call 775-555-0112"),
        vec![s("WEEKLY", "FR", "10:00", "12:00")]
    );
    // A time to call stays one; so does "call or text".
    assert!(read("Call 765-555-0134 Monday-Friday 9-5 to register").is_empty());
    assert!(read("Mondays 9-11 call to register").is_empty());
    // A page's stamp is no opening.
    assert!(read("Last updated Monday 3/4/2024 10:15 AM").is_empty());
    assert!(read("Call or text Monday-Friday 9-5").is_empty());
}

#[test]
fn lone_letters_with_colons_and_another_programs_hours() {
    assert_eq!(
        read("M: 9-12 | T: 1-4 | W: closed | Th: 9-12 | F: closed"),
        vec![
            s("WEEKLY", "MO,TH", "09:00", "12:00"),
            s("WEEKLY", "TU", "13:00", "16:00")
        ]
    );
    assert_eq!(
        read("Clothing closet: Mon 9-11. Food pantry: Thu 1-3pm."),
        vec![s("WEEKLY", "TH", "13:00", "15:00")]
    );
    assert_eq!(
        read("Worship Sunday 10-11am; food pantry Tuesday 10-12"),
        vec![s("WEEKLY", "TU", "10:00", "12:00")]
    );
}

#[test]
fn the_day_before_a_registration_goes_on_to_the_distribution() {
    assert_eq!(
        read("Saturday: registration 9-9:30am, distribution 10-12"),
        vec![s("WEEKLY", "SA", "10:00", "12:00")]
    );
    // Not past the sentence's end.
    assert!(read("Call Monday-Friday 9-5 to register. Open 10-12").is_empty());
}

#[test]
fn til_and_a_meridiem_written_with_a_space() {
    assert_eq!(
        read("Tuesday 9 til noon; Friday noon to 2"),
        vec![
            s("WEEKLY", "TU", "09:00", "12:00"),
            s("WEEKLY", "FR", "12:00", "14:00")
        ]
    );
    assert_eq!(
        read("Wed 10 'til 1"),
        vec![s("WEEKLY", "WE", "10:00", "13:00")]
    );
    assert_eq!(
        read("s\u{e1}bados 9:00 a. m. \u{2013} 11:00 a. m."),
        vec![s("WEEKLY", "SA", "09:00", "11:00")]
    );
    // "until" and words that hold "til" are not touched.
    assert_eq!(
        read("Mon 9 until 11"),
        vec![s("WEEKLY", "MO", "09:00", "11:00")]
    );
}

#[test]
fn being_open_after_a_comma_is_a_clause_of_its_own() {
    assert_eq!(
        read("Volunteers run it out of 14 Pine St, open Wednesdays 2-4 pm."),
        vec![s("WEEKLY", "WE", "14:00", "16:00")]
    );
    // Without it, volunteers' hours are still no opening.
    assert!(read("Volunteers needed Mondays 8-10am").is_empty());
}

#[test]
fn a_house_numbers_range_in_camden_is_no_opening() {
    // "am" inside "Camden" is no meridiem.
    assert!(!super::looks_like_hours("12-14 Oak St, Camden, NJ 08102"));
    assert!(super::looks_like_hours("10-12 am"));
    assert!(super::looks_like_hours("Open 10am-2pm"));
    let a = crate::classify::address("12-14 Oak St, Camden, NJ 08102").expect("an address");
    assert_eq!(
        (a.street.as_deref(), a.city.as_deref()),
        (Some("12-14 Oak St"), Some("Camden"))
    );
}
