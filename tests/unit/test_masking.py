"""行政执法公示's masking rules (flows/masking.py) on the kind of text a department writes in its feedback."""

import pytest

from chuishao.flows.masking import ID_MARK, PHONE_MARK, mask, masked_name, village_of


@pytest.mark.parametrize("text, expected", [
    ("当事人张三已拆除违建", "当事人张某已拆除违建"),
    ("当事人张三拆除了违建", "当事人张某拆除了违建"),
    ("当事人：李四华于11月16日自行拆除", "当事人：李某于11月16日自行拆除"),
    ("村民李四华、王五反映邻居占道", "村民李某、王某反映邻居占道"),
    ("王某某已签字确认", "王某已签字确认"),
    ("户主赵六在场", "户主赵某在场"),
    ("经查，法定代表人欧阳娜娜的养殖场未建粪污设施", "经查，法定代表人欧阳某的养殖场未建粪污设施"),
    ("驾驶员刘大伟驾驶无证车辆", "驾驶员刘某驾驶无证车辆"),
    ("负责人孙立新签字确认，经营者马小红和丁一拒不整改", "负责人孙某签字确认，经营者马某和丁某拒不整改"),
    ("当事人张某已整改完毕", "当事人张某已整改完毕"),
    ("已责令限期拆除，对设置单位依法处罚。", "已责令限期拆除，对设置单位依法处罚。"),  # nothing personal: unchanged
])
def test_names_after_the_words_that_introduce_a_person_become_surname_and_mou(text, expected):
    assert mask(text) == expected


def test_names_the_case_knows_are_masked_wherever_they_occur():
    text = "经执法人员郭建国、宋丽现场核查，由张三、李四共同负责清运，司马光明表示配合"
    out = mask(text, ["郭建国", "宋丽", "张三", "司马光明", "zrzy_off1", ""])
    assert out == "经执法人员郭某、宋某现场核查，由张某、李某共同负责清运，司马某表示配合"  # 李四: by the tagger
    assert masked_name("欧阳娜娜") == "欧阳某" and masked_name("王五") == "王某"


@pytest.mark.parametrize("text", [
    "联系电话13812345678", "电话 138-1234-5678", "手机：+86 139 1234 5678", "电话８６１３８１２３４５６７８",
    "座机0358-3012345", "(0358)3012345转801", "（010）62345678", "电话 0358 3012345-12",
])
def test_phone_numbers_are_removed(text):
    out = mask(text)
    assert PHONE_MARK in out
    assert not any(ch.isdigit() for ch in out.replace(PHONE_MARK, "")), out


@pytest.mark.parametrize("text", [
    "身份证号14112319850307123X", "身份证 141123198503071234。", "证号 14112319850307123x", "旧证141123850307123",
])
def test_id_card_numbers_are_removed(text):
    out = mask(text)
    assert ID_MARK in out and not any(ch.isdigit() for ch in out.replace(ID_MARK, "")), out


@pytest.mark.parametrize("text", [
    "罚款2000元", "处罚决定书文环罚〔2026〕15号", "面积约300平方米", "2026-11-16 到场", "11月15号到现场",
    "共清运垃圾12车", "编号20261116001", "执法证号晋执-0001",
])
def test_numbers_that_are_not_personal_stay(text):
    assert mask(text) == text


@pytest.mark.parametrize("text, expected", [
    ("某某镇某某村3组15号有人违建", "某某镇某某村有人违建"),
    ("现场位于城关村第三村民小组", "现场位于城关村"),
    ("东街12号院内新建砖房", "东街院内新建砖房"),
    ("幸福小区5号楼2单元301室噪声扰民", "幸福小区噪声扰民"),
    ("刘胡兰村二组 18号门前", "刘胡兰村门前"),
    ("南胡家堡村8排3户", "南胡家堡村"),
])
def test_addresses_are_cut_to_the_village(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize("address, expected", [
    ("文水县凤城镇城关村3组15号", "文水县凤城镇城关村"),
    ("凤城镇东街社区12号院", "凤城镇东街社区"),
    ("南村镇北街5号", "南村镇北街"),
    ("刘胡兰镇保贤村村委会西", "刘胡兰镇保贤村"),
    ("", ""), (None, None),
])
def test_an_address_field_is_cut_at_its_village(address, expected):
    assert village_of(address) == expected


def test_everything_at_once_on_a_realistic_feedback():
    text = ("经查，当事人张三（身份证号14112319850307123X，电话13812345678）在凤城镇城关村3组15号"
            "未经批准建房约120平方米。执法人员郭建国、宋丽于11月18日下达责令限期拆除通知书，户主张三已于11月20日"
            "自行拆除，联系人李四华（0358-3012345）签字确认。")
    out = mask(text, ["郭建国", "宋丽"])
    assert out == ("经查，当事人张某（身份证号[身份证号已隐去]，电话[电话已隐去]）在凤城镇城关村"
                   "未经批准建房约120平方米。执法人员郭某、宋某于11月18日下达责令限期拆除通知书，户主张某已于11月20日"
                   "自行拆除，联系人李某（[电话已隐去]）签字确认。")
    assert "张三" not in out and "1381234" not in out


@pytest.mark.parametrize("text, expected", [
    # a name found anywhere is masked at every mention
    ("当事人王建国已拆除违建。王建国表示同意。", "当事人王某已拆除违建。王某表示同意。"),
    ("欧阳娜娜的养殖场未建粪污设施", "欧阳某的养殖场未建粪污设施"),
    ("张建华书记、李主任现场查看", "张某书记、李主任现场查看"),  # a bare surname shows no more than 李某
    ("镇党委书记、常务副镇长、村委主任到场督导", "镇党委书记、常务副镇长、村委主任到场督导"),
    ("城关村村委会主任陈志强陪同检查", "城关村村委会主任陈某陪同检查"),
    ("当事人为王建国，已责令整改", "当事人为王某，已责令整改"),
    ("犯罪嫌疑人刘洋已移送公安机关", "犯罪嫌疑人刘某已移送公安机关"),
    ("行为人孙大勇当场认错", "行为人孙某当场认错"),
    ("养殖户赵铁柱未办理环评手续", "养殖户赵某未办理环评手续"),
    ("经营户马家豪占道经营", "经营户马某占道经营"),
    ("当事人王建国和其妻子李秀英到场", "当事人王某和其妻子李某到场"),
    ("其子王小军、女儿王丽签字", "其子王某、女儿王某签字"),
    ("经走访刘洋了解，该房屋系王建国于2019年私自加盖", "经走访刘某了解，该房屋系王某于2019年私自加盖"),
    ("刘胡兰村二组村民反映", "刘胡兰村村民反映"),  # a village named after a person stays
])
def test_every_mention_of_a_found_name_is_masked(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize("text, expected", [
    ("在欧阳娜娜家2单元301室查看", "在欧阳某家查看"),
    ("幸福小区5号楼2单元301住户反映噪音", "幸福小区住户反映噪音"),
    ("门牌12号的房屋", "门牌的房屋"),
    ("门牌号：23号", "门牌"),
])
def test_house_level_address_parts_are_removed(text, expected):
    assert mask(text) == expected


@pytest.mark.parametrize("text, gone", [
    ("车牌号晋J12345的货车沿路抛撒", "J12345"),
    ("新能源车晋AD12345占用消防通道", "AD12345"),
    ("罚款缴入银行卡6222021234567890123", "6222021234567890123"),
    ("卡号 6222 0212 3456 7890", "7890"),
    ("微信 sun_12345 联系", "sun_12345"),
    ("微信号：wxid_abc123", "wxid_abc123"),
    ("QQ 12345678", "12345678"),
    ("QQ号为987654321", "987654321"),
])
def test_plates_cards_and_chat_ids_are_removed(text, gone):
    out = mask(text)
    assert gone not in out and "已隐去" in out, out
