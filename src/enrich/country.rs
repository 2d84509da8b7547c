//! Country and continent names for an ISO 3166-1 alpha-2 country code.
//!
//! A *country code* is the two-letter ISO 3166-1 alpha-2 code (`US`, `GB`). Databases in the
//! DB-IP layout and some input events give only that code; the names come from the `keshvar`
//! crate's copy of the ISO 3166 data. A *continent* is named with the two-letter codes and English
//! names that GeoIP2 databases use (`NA`, "North America"), so that one destination gets the same
//! continent whichever database or event described it; keshvar's "Australia" is therefore
//! reported as GeoIP2's `OC`, "Oceania".

use keshvar::{Alpha2, Continent};

/// What the ISO data says about one country code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CountryInfo {
    /// The ISO 3166 short name in English, as keshvar spells it.
    pub name: &'static str,
    pub continent_code: &'static str,
    pub continent_name: &'static str,
}

/// The names for a country code in either case; `None` for codes that are not ISO 3166-1
/// countries, such as the user-assigned `ZZ` or `XK`.
pub fn country_info(iso_code: &str) -> Option<CountryInfo> {
    let country = Alpha2::try_from(iso_code).ok()?.to_country();
    let (continent_code, continent_name) = continent_names(country.continent());
    Some(CountryInfo { name: country.iso_short_name(), continent_code, continent_name })
}

fn continent_names(continent: Continent) -> (&'static str, &'static str) {
    match continent {
        Continent::Africa => ("AF", "Africa"),
        Continent::Antarctica => ("AN", "Antarctica"),
        Continent::Asia => ("AS", "Asia"),
        Continent::Australia => ("OC", "Oceania"),
        Continent::Europe => ("EU", "Europe"),
        Continent::NorthAmerica => ("NA", "North America"),
        Continent::SouthAmerica => ("SA", "South America"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_codes_have_names_and_continents() {
        let us = country_info("US").unwrap();
        assert_eq!(us.name, "United States of America");
        assert_eq!((us.continent_code, us.continent_name), ("NA", "North America"));
        let gb = country_info("gb").unwrap();
        assert_eq!(gb.name, "United Kingdom of Great Britain and Northern Ireland");
        assert_eq!((gb.continent_code, gb.continent_name), ("EU", "Europe"));
        let au = country_info("AU").unwrap();
        assert_eq!((au.continent_code, au.continent_name), ("OC", "Oceania"));
        assert_eq!(country_info("BR").unwrap().continent_name, "South America");
        assert_eq!(country_info("AQ").unwrap().continent_code, "AN");
    }

    #[test]
    fn unknown_codes_have_no_names() {
        for code in ["ZZ", "XK", "EU", "", "USA", "1"] {
            assert_eq!(country_info(code), None, "{code:?}");
        }
    }
}
