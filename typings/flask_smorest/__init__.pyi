# Types for the parts of flask-smorest (0.46, untyped) that licensing.api uses.
#
# The decorators are typed as returning the view they are given: flask-smorest
# wraps the view (parses arguments into it, dumps what it returns), but only Flask
# calls the wrapper, so what mypy should check is the view as written.
import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any, ClassVar, TypeVar

import flask
import marshmallow as ma
from apispec import APISpec
from webargs.flaskparser import FlaskParser
from webargs.flaskparser import abort as abort

_View = TypeVar("_View", bound=Callable[..., Any])
# `route` also takes a MethodView class.
_Route = TypeVar("_Route", bound=Callable[..., Any] | type[Any])
_Schema = type[ma.Schema] | ma.Schema | str | dict[str, Any]
_Status = int | str

class Blueprint(flask.Blueprint):
    ARGUMENTS_PARSER: ClassVar[FlaskParser]
    PAGINATION_ARGUMENTS_PARSER: ClassVar[FlaskParser]
    PAGINATION_HEADER_NAME: ClassVar[str | None]
    HTTP_METHODS: ClassVar[list[str]]
    DOCSTRING_INFO_DELIMITER: ClassVar[str | None]
    description: str
    def __init__(
        self,
        name: str,
        import_name: str,
        static_folder: str | os.PathLike[str] | None = None,
        static_url_path: str | None = None,
        template_folder: str | os.PathLike[str] | None = None,
        url_prefix: str | None = None,
        subdomain: str | None = None,
        url_defaults: dict[str, Any] | None = None,
        root_path: str | None = None,
        cli_group: str | None = ...,
        *,
        description: str = "",
    ) -> None: ...
    def add_url_rule(
        self,
        rule: str,
        endpoint: str | None = None,
        view_func: Callable[..., Any] | None = None,
        provide_automatic_options: bool | None = None,
        *,
        parameters: Iterable[str | dict[str, Any]] | None = None,
        tags: Iterable[str] | None = None,
        **options: Any,
    ) -> None: ...
    def route(
        self,
        rule: str,
        *,
        parameters: Iterable[str | dict[str, Any]] | None = None,
        tags: Iterable[str] | None = None,
        **options: Any,
    ) -> Callable[[_Route], _Route]: ...
    def arguments(
        self,
        schema: type[ma.Schema] | ma.Schema,
        *,
        location: str = "json",
        content_type: str | None = None,
        required: bool = True,
        description: str | None = None,
        example: Any = None,
        examples: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> Callable[[_View], _View]: ...
    def response(
        self,
        status_code: _Status,
        schema: _Schema | None = None,
        *,
        content_type: str | None = None,
        description: str | None = None,
        example: Any = None,
        examples: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
    ) -> Callable[[_View], _View]: ...
    def alt_response(
        self,
        status_code: _Status,
        response: str | None = None,
        *,
        schema: _Schema | None = None,
        content_type: str | None = None,
        description: str | None = None,
        example: Any = None,
        examples: Mapping[str, Any] | None = None,
        headers: Mapping[str, Any] | None = None,
        success: bool = False,
    ) -> Callable[[_View], _View]: ...
    def paginate(
        self,
        pager: type[Any] | None = None,
        *,
        page: int | None = None,
        page_size: int | None = None,
        max_page_size: int | None = None,
    ) -> Callable[[_View], _View]: ...
    def etag(self, obj: Any) -> Callable[[_View], _View]: ...
    @staticmethod
    def doc(**kwargs: Any) -> Callable[[_View], _View]: ...
    def _document_pagination_metadata(self, spec: APISpec, resp_doc: dict[str, Any]) -> None: ...

class Api:
    DEFAULT_ERROR_RESPONSE_NAME: ClassVar[str]
    DEFAULT_REQUEST_BODY_CONTENT_TYPE: ClassVar[str]
    DEFAULT_RESPONSE_CONTENT_TYPE: ClassVar[str]
    ERROR_SCHEMA: ClassVar[type[ma.Schema]]
    # Set by init_app: None only before the Api is bound to an app.
    spec: APISpec
    config: Mapping[str, Any]
    config_prefix: str
    def __init__(
        self,
        app: flask.Flask | None = None,
        *,
        spec_kwargs: dict[str, Any] | None = None,
        config_prefix: str = "",
    ) -> None: ...
    def init_app(self, app: flask.Flask, *, spec_kwargs: dict[str, Any] | None = None) -> None: ...
    def register_blueprint(
        self,
        blp: Blueprint,
        *,
        parameters: Iterable[str | dict[str, Any]] | None = None,
        **options: Any,
    ) -> None: ...
    def register_converter(self, converter: type[Any], func: Callable[..., Any]) -> None: ...
    def register_field(self, field: type[ma.fields.Field[Any]], *args: Any) -> None: ...
    def handle_http_exception(self, error: Exception) -> flask.Response: ...
    def _register_error_handlers(self) -> None: ...
    def _register_responses(self) -> None: ...
    def _register_etag_headers(self) -> None: ...
    def _register_pagination_header(self) -> None: ...

class Page:
    collection: Any
    page_params: Any
    def __init__(self, collection: Any, page_params: Any) -> None: ...
    @property
    def items(self) -> list[Any]: ...
    @property
    def item_count(self) -> int: ...
