//! The hours parser where a text holds more than one sentence or clause
//! with days: a range takes its days from its own sentence (a day's or a
//! street's abbreviation ends none), a day "by appointment" lends none, a
//! range joined to one with days takes those, a season's hours are no
//! opening of their own.

use super::tests::{read, s};

#[test]
fn another_sentences_days_are_not_the_ranges() {
    // A choir's Thursday before the pantry's Mondays.
    assert_eq!(
        read(
            "Choir practice moves to Thursday at 7 pm. The St. Vincent de Paul Food Pantry is \
             open Mondays 6-8 pm and Saturdays 9-11 am in the school gym."
        ),
        vec![
            s("WEEKLY", "MO", "18:00", "20:00"),
            s("WEEKLY", "SA", "09:00", "11:00")
        ]
    );
    assert_eq!(
        read("Bible study is Wednesday at 10 a.m. Pantry: Fridays 1-3 pm"),
        vec![s("WEEKLY", "FR", "13:00", "15:00")]
    );
    // A sentence with no day of its own keeps the day before it.
    assert_eq!(
        read("Open every Tuesday. Hours 10-12."),
        vec![s("WEEKLY", "TU", "10:00", "12:00")]
    );
}

#[test]
fn abbreviations_end_no_sentence() {
    assert_eq!(
        read("Tues. & Thurs. 10-12"),
        vec![s("WEEKLY", "TU,TH", "10:00", "12:00")]
    );
    assert_eq!(
        read("1st & 3rd Thurs. 4:00pm - 6:00pm; 2nd & 4th Sat. 10am-noon"),
        vec![
            s("MONTHLY", "1TH,3TH", "16:00", "18:00"),
            s("MONTHLY", "2SA,4SA", "10:00", "12:00")
        ]
    );
    assert_eq!(
        read("Mon. thru Fri. 9 to 4"),
        vec![s("WEEKLY", "MO,TU,WE,TH,FR", "09:00", "16:00")]
    );
}

#[test]
fn an_appointment_day_lends_no_days_and_a_joined_range_keeps_its_own() {
    assert_eq!(
        read(
            "Monday 9-12, Tuesday closed, Wednesday 9-12 and 1-3, Thursday by appointment, \
             Friday 9-12"
        ),
        vec![
            s("WEEKLY", "MO,WE,FR", "09:00", "12:00"),
            s("WEEKLY", "WE", "13:00", "15:00")
        ]
    );
}

#[test]
fn a_seasons_hours_are_no_opening_of_their_own() {
    assert_eq!(
        read(
            "Open Mondays and Wednesdays 10 am to 1 pm. Summer hours (June-August): Wednesdays \
             only, 10 am to noon."
        ),
        vec![s("WEEKLY", "MO,WE", "10:00", "13:00")]
    );
}

#[test]
fn hours_that_were_are_no_opening() {
    assert_eq!(
        read("Hours changed! Now open Thursdays 3-5 (was Tuesdays 1-3)."),
        vec![s("WEEKLY", "TH", "15:00", "17:00")]
    );
    assert_eq!(
        read("Open Fridays 9-11, formerly Mondays 9-11"),
        vec![s("WEEKLY", "FR", "09:00", "11:00")]
    );
}

#[test]
fn a_clock_time_ends_a_sentence() {
    assert_eq!(
        read("Wednesday Bible Study 7pm. Food Pantry Saturday 9am-noon."),
        vec![s("WEEKLY", "SA", "09:00", "12:00")]
    );
}
