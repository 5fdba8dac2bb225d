# Types for the parts of Flask-WTF (1.3, untyped) that the pages use.
#
# WTForms 3.3 ships no types, and typeshed's types-WTForms (3.2) lacks the
# SelectChoice the forms use, so wtforms stays untyped (Any): form classes get
# their fields as Any, and what Flask-WTF adds is typed here.
from .csrf import CSRFProtect as CSRFProtect
from .form import FlaskForm as FlaskForm
from .form import Form as Form
