"""Reading the console's money lists (refunds, credit notes, payments; rounds 56-57) the
way their tests do: each row in words by its record's id, each currency's totals."""

from __future__ import annotations

import html
import re

from flask.testing import FlaskClient


def words(markup: str) -> str:
    """The markup's text, tags dropped and spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def rows(markup: str, table_id: str, row_prefix: str) -> dict[int, str]:
    """The rows of table `table_id` by the id in `<tr id="{row_prefix}-{id}">`, in words."""
    table = markup.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    pattern = rf'<tr id="{re.escape(row_prefix)}-(\d+)">(.*?)</tr>'
    return {int(found[1]): words(found[2]) for found in re.finditer(pattern, table, re.DOTALL)}


def totals(markup: str, table_id: str) -> dict[str, list[str]]:
    """Table `table_id`'s cells in words by the currency heading each row."""
    table = markup.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return {
        found[1]: [words(cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", found[2])]
        for found in re.finditer(r'<th scope="row">([A-Z]{3})</th>(.*?)</tr>', table, re.DOTALL)
    }


def listed(staff: FlaskClient, path: str, **filters: str) -> str:
    """The list page at `path` with `filters`, which must answer 200."""
    answer = staff.get(path, query_string=filters)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:800]
    return answer.get_data(as_text=True)
