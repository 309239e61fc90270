//! `closed_set!`: a fieldless enum whose variants are all listed in `ALL` and each spelled
//! once, in `as_str` (the name zone files, metric labels, the admin API and explain use).

/// Defines the enum with `ALL` (every variant in declaration order, so `v as usize` is
/// its index), `as_str`, `from_name` and `Display`. A variant is added in one line, so the
/// list, the names and the enum cannot drift apart.
macro_rules! closed_set {
    (
        $(#[$meta:meta])*
        $vis:vis enum $name:ident {
            $($(#[$vmeta:meta])* $variant:ident => $text:literal,)+
        }
    ) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        $vis enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every variant, in declaration order (`v as usize` is its index).
            $vis const ALL: [$name; [$($text),+].len()] = [$($name::$variant),+];

            /// The one spelling of the variant.
            $vis fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }

            /// The variant spelled `name`, if any.
            #[allow(dead_code, reason = "not every set is read from text")]
            $vis fn from_name(name: &str) -> Option<Self> {
                Self::ALL.into_iter().find(|v| v.as_str() == name)
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub(crate) use closed_set;

#[cfg(test)]
mod tests {
    closed_set! {
        /// A test set.
        enum Light {
            Red => "red",
            /// Documented variants keep their docs.
            Green => "green",
        }
    }

    #[test]
    fn every_variant_is_listed_at_its_index_and_named_once() {
        assert_eq!(Light::ALL, [Light::Red, Light::Green]);
        for (i, v) in Light::ALL.into_iter().enumerate() {
            assert_eq!(v as usize, i);
            assert_eq!(Light::from_name(v.as_str()), Some(v));
            assert_eq!(v.to_string(), v.as_str());
        }
        assert_eq!(Light::from_name("blue"), None);
    }
}
