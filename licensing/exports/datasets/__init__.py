"""One module per dataset; each calls `licensing.exports.base.register()`."""
