//! Meridian's fuzz targets' shared code: the fixture Handler and the reply oracle (also used by the stable tests).

pub mod fixture;
pub mod oracle;
