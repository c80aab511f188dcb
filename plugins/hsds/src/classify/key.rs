//! A raw field's role from its key: exact spellings first, then the words
//! a key contains, accents and case and separators not mattering.

/// What a raw field holds, as its key says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Name,
    OrgName,
    Address,
    Address2,
    City,
    State,
    Zip,
    /// The number before the street, in a field of its own (OpenStreetMap's
    /// `addr:housenumber`, `street_number`).
    HouseNumber,
    Phone,
    Email,
    Website,
    Hours,
    Latitude,
    Longitude,
    Notes,
    /// Who may come and what to bring: the service's
    /// `eligibility_description`.
    Eligibility,
    Description,
    Services,
    /// Known not to be record content (scraper bookkeeping).
    Ignore,
    Unknown,
}

/// A key's role, from its spelling: case, `_`, `-` and spaces do not
/// matter, and unfamiliar keys are read by the words they contain.
pub fn role_of(key: &str) -> Role {
    rank_role(key).0
}

/// How surely a key's spelling says its role: an exact spelling, a word
/// it contains, or nothing (its content decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Rank {
    Exact,
    Word,
    Content,
}

/// A key's letter without its accent (`dirección` is `direccion`,
/// `téléphone` is `telephone`), so Spanish and French keys read however
/// they are typed.
fn unaccented(c: char) -> char {
    match c {
        'á' | 'à' | 'â' | 'ä' => 'a',
        'Á' | 'À' | 'Â' | 'Ä' => 'A',
        'é' | 'è' | 'ê' | 'ë' => 'e',
        'É' | 'È' | 'Ê' | 'Ë' => 'E',
        'í' | 'ì' | 'î' | 'ï' => 'i',
        'Í' | 'Ì' | 'Î' | 'Ï' => 'I',
        'ó' | 'ò' | 'ô' | 'ö' => 'o',
        'Ó' | 'Ò' | 'Ô' | 'Ö' => 'O',
        'ú' | 'ù' | 'û' | 'ü' => 'u',
        'Ú' | 'Ù' | 'Û' | 'Ü' => 'U',
        'ñ' => 'n',
        'Ñ' => 'N',
        'ç' => 'c',
        'Ç' => 'C',
        other => other,
    }
}

/// The words of a key: `parentOrganizationId` and `parent_organization_id`
/// are both `parent organization id`.
pub(crate) fn words(key: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut prev_lower = false;
    for c in key.chars().map(unaccented) {
        let boundary = !c.is_ascii_alphanumeric() || (c.is_ascii_uppercase() && prev_lower);
        if boundary && !word.is_empty() {
            out.push(std::mem::take(&mut word));
        }
        if c.is_ascii_alphanumeric() {
            word.push(c.to_ascii_lowercase());
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// A key's role and how surely its spelling says it. Identifiers
/// (`parent_organization_id`, `siteId`), pictures (`logo`, `image_url`)
/// and the record's own dates (`last_verified`, `updatedAt`) are never
/// record content.
pub fn rank_role(key: &str) -> (Role, Rank) {
    let words = words(key);
    let last = words.last().map(String::as_str).unwrap_or_default();
    if matches!(
        last,
        "id" | "ids" | "uuid" | "guid" | "identifier" | "identifiers"
    ) || words.iter().any(|w| {
        matches!(
            w.as_str(),
            "logo" | "image" | "img" | "photo" | "icon" | "picture" | "thumbnail"
                // When the record was checked or changed, not the place's
                // content: `last_verified`, `updatedAt`, `date_modified`.
                | "verified" | "updated" | "modified" | "created" | "scraped" | "reviewed"
                | "timestamp"
        )
    }) {
        return (Role::Ignore, Rank::Exact);
    }
    let k: String = key
        .chars()
        .map(unaccented)
        .filter(char::is_ascii_alphanumeric)
        .collect::<String>()
        .to_ascii_lowercase();
    let exact = match k.as_str() {
        "name" | "sitename" | "locationname" | "pantryname" | "title" | "distributionsite"
        | "facility" | "facilityname" | "placename" | "programname" | "nombre" | "pantry"
        | "site" | "branch" | "store" | "storename" | "nom" | "nomdusite" => Some(Role::Name),
        "organization" | "organizationname" | "orgname" | "agency" | "agencyname" | "provider"
        | "providername" | "organizacion" | "agencia" | "organisme" => Some(Role::OrgName),
        "address" | "address1" | "addressline1" | "street" | "streetaddress" | "addr"
        | "fulladdress" | "location" | "streetaddress1" | "direccion" | "calle" | "line1"
        | "addressline" | "addr1" | "street1" | "domicilio" | "adresse" | "rue"
        // A places API's short address: "402 Oak St, Springfield".
        | "vicinity"
        // Where mail goes: a PO box, or a street (not an email).
        | "mailing" | "mailingaddr" => Some(Role::Address),
        "address2" | "addressline2" | "streetaddress2" | "suite" | "unit" | "line2" | "addr2"
        | "street2" => Some(Role::Address2),
        "city" | "town" | "municipality" | "locality" | "ciudad" | "municipio" | "pueblo"
        | "ville" => {
            Some(Role::City)
        }
        "state" | "stateprovince" | "province" | "region" | "st" | "statecode" | "estado" => {
            Some(Role::State)
        }
        "zip" | "zipcode" | "postal" | "postalcode" | "postcode" | "codigopostal" => {
            Some(Role::Zip)
        }
        "housenumber" | "streetnumber" | "housenum" | "buildingnumber" => Some(Role::HouseNumber),
        // A time or a when, whatever it holds ("8am until gone").
        "time" | "when" | "cuando" | "hora" => Some(Role::Hours),
        "lat" | "latitude" | "y" => Some(Role::Latitude),
        "lon" | "lng" | "long" | "longitude" | "x" => Some(Role::Longitude),
        "source" | "foodbank" | "id" | "siteid" | "distance" | "county" | "collectionname"
        | "collectioncategory" | "scrapedat" | "updatedat" | "createdat" | "language"
        | "languagecode" | "lang" | "locale" | "country" | "countrycode" | "countryname"
        // The four digits after a ZIP code: no HSDS field, and no ZIP code.
        | "zip4" | "plus4" | "zipplus4" | "zipext" => {
            Some(Role::Ignore)
        }
        _ => None,
    };
    if let Some(role) = exact {
        return (role, Rank::Exact);
    }
    if let Some(role) = address_part(&words) {
        return (role, Rank::Exact);
    }
    let role = role_by_words(&k);
    let rank = if role == Role::Unknown {
        Rank::Content
    } else {
        Rank::Word
    };
    (role, rank)
}

/// A part of an address under an address prefix, as schema.org
/// (`addressLocality`, `addressRegion`), OpenStreetMap (`addr:street`,
/// `addr:postcode`) and exports (`addr_line_1`) spell them: the rest of
/// the key read alone, when it names a part of an address.
fn address_part(words: &[String]) -> Option<Role> {
    let (first, rest) = words.split_first()?;
    if rest.is_empty() || !matches!(first.as_str(), "address" | "addr") {
        return None;
    }
    let (role, rank) = rank_role(&rest.concat());
    let part = matches!(
        role,
        Role::Address
            | Role::Address2
            | Role::City
            | Role::State
            | Role::Zip
            | Role::HouseNumber
            | Role::Ignore
    );
    (rank == Rank::Exact && part).then_some(role)
}

/// The role of a key that is not one of the exact spellings, by the words
/// it contains (`k`: lower case, letters and digits only).
fn role_by_words(k: &str) -> Role {
    let has = |w: &str| k.contains(w);
    if has("phone") || has("tel") || has("fax") {
        Role::Phone
    } else if has("email") || (has("mail") && !has("mailing")) || has("correo") || has("courriel") {
        Role::Email
    } else if has("hour")
        || has("schedule")
        || has("open")
        || has("times")
        || has("days")
        || has("weekday")
        || has("window")
        || has("horario")
        || has("heure")
        || has("horaire")
        || (has("time") && (has("close") || has("end") || has("start") || has("until")))
    {
        // `close_time`, `endTime`: a time of day, given as a number too.
        Role::Hours
    } else if has("zip") || has("postal") {
        Role::Zip
    } else if (has("address") || has("street") || has("direcc") || has("line")) && k.ends_with('2')
    {
        // `PhysicalAddress2`, `address_line_2`.
        Role::Address2
    } else if has("address") || has("street") || has("direcc") {
        Role::Address
    } else if has("city") || has("ciudad") {
        Role::City
    } else if ["state", "statecode", "stateabbr", "stateprovince"]
        .iter()
        .any(|end| k.ends_with(end))
    {
        // `BillingState`, `site_state_code`.
        Role::State
    } else if has("latitude") {
        Role::Latitude
    } else if has("longitude") || has("lng") {
        Role::Longitude
    } else if has("url") || has("website") || has("web") || has("link") {
        Role::Website
    } else if has("eligib")
        || has("requirement")
        || has("qualif")
        || has("requisito")
        || has("documents")
        || has("whocan")
    {
        Role::Eligibility
    } else if has("desc") || has("about") || has("summary") {
        Role::Description
    } else if has("note") || has("nota") || has("comment") || has("info") || has("detail") {
        Role::Notes
    } else if has("nombre") && !has("organiza") && !has("agencia") {
        // `nombre_del_programa`: the name of the program, not a service
        // list.
        Role::Name
    } else if has("service") || has("servicio") || has("program") || has("categor") || has("offer")
    {
        Role::Services
    } else if has("org") || has("agency") {
        Role::OrgName
    } else if has("name") {
        Role::Name
    } else {
        Role::Unknown
    }
}
