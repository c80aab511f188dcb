//! Records that list several sites: one location per site.
//!
//! A food bank's record may hold its distribution sites as a list of
//! objects (`"sites": [{"site_name": ..., "addr": ..., "hours": ...}, ...]`,
//! or an HSDS export's `locations`). Read as one record, the second site's
//! hours would land on the first site's address; read site by site, each
//! location keeps its own.

use serde_json::{Map, Value};

use super::fields::escape;
use super::gather::{Found, gather_at};
use crate::classify::{self, Role};

/// Splits off the record's list of sites, if it has one: the rest of the
/// record (shared by every site: the organization, its services) and what
/// was found in each site (its sources point into the list). A list counts
/// as sites when at least two of its objects have an address or
/// coordinates of their own; lists of a site's parts (phones, hours,
/// addresses, services) never do.
pub(super) fn split(record: &Map<String, Value>) -> (Map<String, Value>, Vec<Found>) {
    let found = record.iter().find_map(|(key, value)| {
        let items = value.as_array()?;
        let parts = matches!(
            classify::role_of(key),
            Role::Hours
                | Role::Services
                | Role::Phone
                | Role::Email
                | Role::Website
                | Role::Address
                | Role::Address2
                | Role::Ignore
        );
        if parts {
            return None;
        }
        let sites: Vec<Found> = items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| {
                Some(gather_at(
                    item.as_object()?,
                    &format!("/{}/{i}", escape(key)),
                ))
            })
            .collect();
        let placed = sites
            .iter()
            .filter(|f| f.street.is_some() || (f.latitude.is_some() && f.longitude.is_some()))
            .count();
        (placed >= 2).then(|| (key.clone(), sites))
    });
    match found {
        Some((key, sites)) => {
            let mut shared = record.clone();
            shared.remove(&key);
            (shared, sites)
        }
        None => (record.clone(), Vec::new()),
    }
}

/// What a site leaves out, from the record's own values: the city, state
/// and ZIP code of a site given by its street alone, and the record's
/// phones and hours for a site without any.
pub(super) fn fill_from(site: &mut Found, shared: &Found) {
    for (slot, from) in [
        (&mut site.city, &shared.city),
        (&mut site.state, &shared.state),
        (&mut site.zip, &shared.zip),
    ] {
        if slot.is_none() && site.street.is_some() {
            slot.clone_from(from);
        }
    }
    if site.phones.is_empty() {
        site.phones.clone_from(&shared.phones);
        site.extensions.clone_from(&shared.extensions);
        site.faxes.clone_from(&shared.faxes);
    }
    if site.hours.is_empty() {
        site.hours.clone_from(&shared.hours);
    }
}
