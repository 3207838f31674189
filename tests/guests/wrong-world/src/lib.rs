//! A well-formed component of some other world: it does not export the
//! `baton:plugin` step functions.

wit_bindgen::generate!({
    inline: "
        package test:other;
        world other {
            export hello: func() -> string;
        }
    ",
});

struct Other;

impl Guest for Other {
    fn hello() -> String {
        "hello".into()
    }
}

export!(Other);
