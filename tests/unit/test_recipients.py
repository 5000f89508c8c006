"""Who an event's audience names (notifications/fanout.Recipients): the fan-out's choice of recipients."""

from chuishao.notifications.fanout import Recipients

# (id, role, unit id) of the active users one batch's query found
USERS = [(1, "township", 10), (2, "township", 11), (3, "department", 20), (4, "department", 21),
         (5, "supervisor", None), (6, "grid_worker", 10)]


def test_a_role_in_a_unit_a_role_anywhere_and_named_users_each_once_in_id_order():
    who = Recipients(USERS)
    audience = {"roles": [["department", 21], ["township", None], ["department", 20]], "users": [6, 1]}
    assert who(audience) == [1, 2, 3, 4, 6]


def test_the_actor_is_left_out_and_unknown_or_inactive_users_are_not_notified():
    who = Recipients(USERS)
    assert who({"roles": [["township", 10]], "users": [99], "exclude": 1}) == []
    assert who({"roles": [["supervisor", None]], "users": [3], "exclude": 3}) == [5]
    assert who({"roles": [["department", 99]]}) == []
    assert who({}) == []


def test_a_named_user_is_given_as_the_database_has_the_id():
    assert Recipients(USERS)({"users": [6.0, True]}) == [1, 6]
    assert all(type(u) is int for u in Recipients(USERS)({"users": [6.0, True]}))
