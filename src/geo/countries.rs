//! Country facts: continent and approximate centroid for every ISO 3166-1 country (plus XK).
//!
//! Centroids are rounded to two decimals; they stand in for coordinates when a database only
//! knows the country. Continents follow the GeoNames assignment that GeoIP databases use.

use super::Continent::{self, AF, AN, AS, EU, NA, OC, SA};

struct Country {
    code: [u8; 2],
    continent: Continent,
    lat: f64,
    lon: f64,
}

const fn c(code: &[u8; 2], continent: Continent, lat: f64, lon: f64) -> Country {
    Country {
        code: *code,
        continent,
        lat,
        lon,
    }
}

/// Sorted by code (binary search below relies on it; a test checks it).
static COUNTRIES: [Country; 250] = [
    c(b"AD", EU, 42.55, 1.60),
    c(b"AE", AS, 23.42, 53.85),
    c(b"AF", AS, 33.94, 67.71),
    c(b"AG", NA, 17.06, -61.80),
    c(b"AI", NA, 18.22, -63.07),
    c(b"AL", EU, 41.15, 20.17),
    c(b"AM", AS, 40.07, 45.04),
    c(b"AO", AF, -11.20, 17.87),
    c(b"AQ", AN, -75.25, -0.07),
    c(b"AR", SA, -38.42, -63.62),
    c(b"AS", OC, -14.27, -170.13),
    c(b"AT", EU, 47.52, 14.55),
    c(b"AU", OC, -25.27, 133.78),
    c(b"AW", NA, 12.52, -69.97),
    c(b"AX", EU, 60.18, 19.92),
    c(b"AZ", AS, 40.14, 47.58),
    c(b"BA", EU, 43.92, 17.68),
    c(b"BB", NA, 13.19, -59.54),
    c(b"BD", AS, 23.68, 90.36),
    c(b"BE", EU, 50.50, 4.47),
    c(b"BF", AF, 12.24, -1.56),
    c(b"BG", EU, 42.73, 25.49),
    c(b"BH", AS, 25.93, 50.64),
    c(b"BI", AF, -3.37, 29.92),
    c(b"BJ", AF, 9.31, 2.32),
    c(b"BL", NA, 17.90, -62.83),
    c(b"BM", NA, 32.32, -64.76),
    c(b"BN", AS, 4.54, 114.73),
    c(b"BO", SA, -16.29, -63.59),
    c(b"BQ", NA, 12.18, -68.26),
    c(b"BR", SA, -14.24, -51.93),
    c(b"BS", NA, 25.03, -77.40),
    c(b"BT", AS, 27.51, 90.43),
    c(b"BV", AN, -54.42, 3.41),
    c(b"BW", AF, -22.33, 24.68),
    c(b"BY", EU, 53.71, 27.95),
    c(b"BZ", NA, 17.19, -88.50),
    c(b"CA", NA, 56.13, -106.35),
    c(b"CC", AS, -12.16, 96.87),
    c(b"CD", AF, -4.04, 21.76),
    c(b"CF", AF, 6.61, 20.94),
    c(b"CG", AF, -0.23, 15.83),
    c(b"CH", EU, 46.82, 8.23),
    c(b"CI", AF, 7.54, -5.55),
    c(b"CK", OC, -21.24, -159.78),
    c(b"CL", SA, -35.68, -71.54),
    c(b"CM", AF, 7.37, 12.35),
    c(b"CN", AS, 35.86, 104.20),
    c(b"CO", SA, 4.57, -74.30),
    c(b"CR", NA, 9.75, -83.75),
    c(b"CU", NA, 21.52, -77.78),
    c(b"CV", AF, 16.00, -24.01),
    c(b"CW", NA, 12.17, -68.99),
    c(b"CX", AS, -10.45, 105.69),
    c(b"CY", EU, 35.13, 33.43),
    c(b"CZ", EU, 49.82, 15.47),
    c(b"DE", EU, 51.17, 10.45),
    c(b"DJ", AF, 11.83, 42.59),
    c(b"DK", EU, 56.26, 9.50),
    c(b"DM", NA, 15.41, -61.37),
    c(b"DO", NA, 18.74, -70.16),
    c(b"DZ", AF, 28.03, 1.66),
    c(b"EC", SA, -1.83, -78.18),
    c(b"EE", EU, 58.60, 25.01),
    c(b"EG", AF, 26.82, 30.80),
    c(b"EH", AF, 24.22, -12.89),
    c(b"ER", AF, 15.18, 39.78),
    c(b"ES", EU, 40.46, -3.75),
    c(b"ET", AF, 9.15, 40.49),
    c(b"FI", EU, 61.92, 25.75),
    c(b"FJ", OC, -16.58, 179.41),
    c(b"FK", SA, -51.80, -59.52),
    c(b"FM", OC, 7.43, 150.55),
    c(b"FO", EU, 61.89, -6.91),
    c(b"FR", EU, 46.23, 2.21),
    c(b"GA", AF, -0.80, 11.61),
    c(b"GB", EU, 55.38, -3.44),
    c(b"GD", NA, 12.26, -61.60),
    c(b"GE", AS, 42.32, 43.36),
    c(b"GF", SA, 3.93, -53.13),
    c(b"GG", EU, 49.47, -2.59),
    c(b"GH", AF, 7.95, -1.02),
    c(b"GI", EU, 36.14, -5.35),
    c(b"GL", NA, 71.71, -42.60),
    c(b"GM", AF, 13.44, -15.31),
    c(b"GN", AF, 9.95, -9.70),
    c(b"GP", NA, 17.00, -62.07),
    c(b"GQ", AF, 1.65, 10.27),
    c(b"GR", EU, 39.07, 21.82),
    c(b"GS", AN, -54.43, -36.59),
    c(b"GT", NA, 15.78, -90.23),
    c(b"GU", OC, 13.44, 144.79),
    c(b"GW", AF, 11.80, -15.18),
    c(b"GY", SA, 4.86, -58.93),
    c(b"HK", AS, 22.40, 114.11),
    c(b"HM", AN, -53.08, 73.50),
    c(b"HN", NA, 15.20, -86.24),
    c(b"HR", EU, 45.10, 15.20),
    c(b"HT", NA, 18.97, -72.29),
    c(b"HU", EU, 47.16, 19.50),
    c(b"ID", AS, -0.79, 113.92),
    c(b"IE", EU, 53.41, -8.24),
    c(b"IL", AS, 31.05, 34.85),
    c(b"IM", EU, 54.24, -4.55),
    c(b"IN", AS, 20.59, 78.96),
    c(b"IO", AS, -6.34, 71.88),
    c(b"IQ", AS, 33.22, 43.68),
    c(b"IR", AS, 32.43, 53.69),
    c(b"IS", EU, 64.96, -19.02),
    c(b"IT", EU, 41.87, 12.57),
    c(b"JE", EU, 49.21, -2.13),
    c(b"JM", NA, 18.11, -77.30),
    c(b"JO", AS, 30.59, 36.24),
    c(b"JP", AS, 36.20, 138.25),
    c(b"KE", AF, -0.02, 37.91),
    c(b"KG", AS, 41.20, 74.77),
    c(b"KH", AS, 12.57, 104.99),
    c(b"KI", OC, -3.37, -168.73),
    c(b"KM", AF, -11.88, 43.87),
    c(b"KN", NA, 17.36, -62.78),
    c(b"KP", AS, 40.34, 127.51),
    c(b"KR", AS, 35.91, 127.77),
    c(b"KW", AS, 29.31, 47.48),
    c(b"KY", NA, 19.51, -80.57),
    c(b"KZ", AS, 48.02, 66.92),
    c(b"LA", AS, 19.86, 102.50),
    c(b"LB", AS, 33.85, 35.86),
    c(b"LC", NA, 13.91, -60.98),
    c(b"LI", EU, 47.17, 9.56),
    c(b"LK", AS, 7.87, 80.77),
    c(b"LR", AF, 6.43, -9.43),
    c(b"LS", AF, -29.61, 28.23),
    c(b"LT", EU, 55.17, 23.88),
    c(b"LU", EU, 49.82, 6.13),
    c(b"LV", EU, 56.88, 24.60),
    c(b"LY", AF, 26.34, 17.23),
    c(b"MA", AF, 31.79, -7.09),
    c(b"MC", EU, 43.75, 7.41),
    c(b"MD", EU, 47.41, 28.37),
    c(b"ME", EU, 42.71, 19.37),
    c(b"MF", NA, 18.08, -63.05),
    c(b"MG", AF, -18.77, 46.87),
    c(b"MH", OC, 7.13, 171.18),
    c(b"MK", EU, 41.61, 21.75),
    c(b"ML", AF, 17.57, -4.00),
    c(b"MM", AS, 21.91, 95.96),
    c(b"MN", AS, 46.86, 103.85),
    c(b"MO", AS, 22.20, 113.54),
    c(b"MP", OC, 17.33, 145.38),
    c(b"MQ", NA, 14.64, -61.02),
    c(b"MR", AF, 21.01, -10.94),
    c(b"MS", NA, 16.74, -62.19),
    c(b"MT", EU, 35.94, 14.38),
    c(b"MU", AF, -20.35, 57.55),
    c(b"MV", AS, 3.20, 73.22),
    c(b"MW", AF, -13.25, 34.30),
    c(b"MX", NA, 23.63, -102.55),
    c(b"MY", AS, 4.21, 101.98),
    c(b"MZ", AF, -18.67, 35.53),
    c(b"NA", AF, -22.96, 18.49),
    c(b"NC", OC, -20.90, 165.62),
    c(b"NE", AF, 17.61, 8.08),
    c(b"NF", OC, -29.04, 167.95),
    c(b"NG", AF, 9.08, 8.68),
    c(b"NI", NA, 12.87, -85.21),
    c(b"NL", EU, 52.13, 5.29),
    c(b"NO", EU, 60.47, 8.47),
    c(b"NP", AS, 28.39, 84.12),
    c(b"NR", OC, -0.52, 166.93),
    c(b"NU", OC, -19.05, -169.87),
    c(b"NZ", OC, -40.90, 174.89),
    c(b"OM", AS, 21.51, 55.92),
    c(b"PA", NA, 8.54, -80.78),
    c(b"PE", SA, -9.19, -75.02),
    c(b"PF", OC, -17.68, -149.41),
    c(b"PG", OC, -6.31, 143.96),
    c(b"PH", AS, 12.88, 121.77),
    c(b"PK", AS, 30.38, 69.35),
    c(b"PL", EU, 51.92, 19.15),
    c(b"PM", NA, 46.94, -56.27),
    c(b"PN", OC, -24.70, -127.44),
    c(b"PR", NA, 18.22, -66.59),
    c(b"PS", AS, 31.95, 35.23),
    c(b"PT", EU, 39.40, -8.22),
    c(b"PW", OC, 7.51, 134.58),
    c(b"PY", SA, -23.44, -58.44),
    c(b"QA", AS, 25.35, 51.18),
    c(b"RE", AF, -21.12, 55.54),
    c(b"RO", EU, 45.94, 24.97),
    c(b"RS", EU, 44.02, 21.01),
    c(b"RU", EU, 61.52, 105.32),
    c(b"RW", AF, -1.94, 29.87),
    c(b"SA", AS, 23.89, 45.08),
    c(b"SB", OC, -9.65, 160.16),
    c(b"SC", AF, -4.68, 55.49),
    c(b"SD", AF, 12.86, 30.22),
    c(b"SE", EU, 60.13, 18.64),
    c(b"SG", AS, 1.35, 103.82),
    c(b"SH", AF, -24.14, -10.03),
    c(b"SI", EU, 46.15, 15.00),
    c(b"SJ", EU, 77.55, 23.67),
    c(b"SK", EU, 48.67, 19.70),
    c(b"SL", AF, 8.46, -11.78),
    c(b"SM", EU, 43.94, 12.46),
    c(b"SN", AF, 14.50, -14.45),
    c(b"SO", AF, 5.15, 46.20),
    c(b"SR", SA, 3.92, -56.03),
    c(b"SS", AF, 6.88, 31.31),
    c(b"ST", AF, 0.19, 6.61),
    c(b"SV", NA, 13.79, -88.90),
    c(b"SX", NA, 18.04, -63.07),
    c(b"SY", AS, 34.80, 39.00),
    c(b"SZ", AF, -26.52, 31.47),
    c(b"TC", NA, 21.69, -71.80),
    c(b"TD", AF, 15.45, 18.73),
    c(b"TF", AN, -49.28, 69.35),
    c(b"TG", AF, 8.62, 0.82),
    c(b"TH", AS, 15.87, 100.99),
    c(b"TJ", AS, 38.86, 71.28),
    c(b"TK", OC, -8.97, -171.86),
    c(b"TL", OC, -8.87, 125.73),
    c(b"TM", AS, 38.97, 59.56),
    c(b"TN", AF, 33.89, 9.54),
    c(b"TO", OC, -21.18, -175.20),
    c(b"TR", AS, 38.96, 35.24),
    c(b"TT", NA, 10.69, -61.22),
    c(b"TV", OC, -7.11, 177.65),
    c(b"TW", AS, 23.70, 120.96),
    c(b"TZ", AF, -6.37, 34.89),
    c(b"UA", EU, 48.38, 31.17),
    c(b"UG", AF, 1.37, 32.29),
    c(b"UM", OC, 19.28, 166.65),
    c(b"US", NA, 37.09, -95.71),
    c(b"UY", SA, -32.52, -55.77),
    c(b"UZ", AS, 41.38, 64.59),
    c(b"VA", EU, 41.90, 12.45),
    c(b"VC", NA, 12.98, -61.29),
    c(b"VE", SA, 6.42, -66.59),
    c(b"VG", NA, 18.42, -64.64),
    c(b"VI", NA, 18.34, -64.90),
    c(b"VN", AS, 14.06, 108.28),
    c(b"VU", OC, -15.38, 166.96),
    c(b"WF", OC, -13.77, -177.16),
    c(b"WS", OC, -13.76, -172.10),
    c(b"XK", EU, 42.60, 20.90),
    c(b"YE", AS, 15.55, 48.52),
    c(b"YT", AF, -12.83, 45.17),
    c(b"ZA", AF, -30.56, 22.94),
    c(b"ZM", AF, -13.13, 27.85),
    c(b"ZW", AF, -19.02, 29.15),
];

fn find(country: [u8; 2]) -> Option<&'static Country> {
    let key = country.map(|b| b.to_ascii_uppercase());
    COUNTRIES
        .binary_search_by(|entry| entry.code.cmp(&key))
        .ok()
        .map(|i| &COUNTRIES[i])
}

/// The continent a country lies on (`None` for unknown codes).
pub fn country_continent(country: [u8; 2]) -> Option<Continent> {
    find(country).map(|entry| entry.continent)
}

/// The approximate centroid (latitude, longitude) of a country (`None` for unknown codes).
pub fn country_centroid(country: [u8; 2]) -> Option<(f64, f64)> {
    find(country).map(|entry| (entry.lat, entry.lon))
}

/// Every country code with its continent and centroid, by code (the console's map).
pub fn all_countries() -> impl Iterator<Item = ([u8; 2], Continent, (f64, f64))> {
    COUNTRIES
        .iter()
        .map(|c| (c.code, c.continent, (c.lat, c.lon)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_sorted_unique_and_in_range() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].code < w[1].code));
        assert_eq!(COUNTRIES.len(), 250, "249 ISO 3166-1 codes plus XK");
        for entry in &COUNTRIES {
            assert!(entry.code.iter().all(u8::is_ascii_uppercase));
            assert!((-90.0..=90.0).contains(&entry.lat), "{:?}", entry.code);
            assert!((-180.0..=180.0).contains(&entry.lon), "{:?}", entry.code);
        }
    }

    #[test]
    fn lookups() {
        assert_eq!(country_continent(*b"US"), Some(NA));
        assert_eq!(country_continent(*b"za"), Some(AF));
        assert_eq!(country_continent(*b"BR"), Some(SA));
        assert_eq!(country_continent(*b"AU"), Some(OC));
        assert_eq!(country_continent(*b"JP"), Some(AS));
        assert_eq!(country_continent(*b"DE"), Some(EU));
        assert_eq!(country_continent(*b"AQ"), Some(AN));
        assert_eq!(country_centroid(*b"DE"), Some((51.17, 10.45)));
        assert_eq!(country_continent(*b"ZZ"), None);
        assert_eq!(country_centroid(*b"EU"), None);
    }
}
